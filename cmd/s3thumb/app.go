package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes that scripts and cron can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or arguments
	// exitAbandoned: serve stopped with work in flight when its shutdown
	// grace ended (requests cut off, resizes and store-backs abandoned).
	exitAbandoned = 5
)

// usageError marks an error in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode chooses the process exit code for an error.
func exitCode(err error) int {
	var ue usageError
	var coder cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &coder):
		return coder.ExitCode()
	}
	return exitFailure
}

// newApp builds the command-line application. Output goes to the given
// writers so tests can run it in-process.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "s3thumb",
		Usage: "image thumbnails on demand and ahead of demand, for images in S3 or a local directory",
		Description: "Every flag can also be set from the environment as S3THUMB_<FLAG>, " +
			"upper case with dashes as underscores (--max-concurrent is S3THUMB_MAX_CONCURRENT).",
		Version:   version(),
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: withEnv([]cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn or error"},
		}),
		Commands: []*cli.Command{
			serveCommand(),
			workCommand(),
			enqueueCommand(),
			analyzeCommand(),
			setupCommand(),
			probeCommand(),
		},
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main decides the exit code
	}
	for _, cmd := range app.Commands {
		cmd.Flags = withEnv(cmd.Flags)
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

// newLogger builds the logger the global flags ask for.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level}
	w := c.App.ErrWriter
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", c.String("log-format"))
}

// version is the module's version and the VCS revision the binary was
// built from, as the Go toolchain records them ("(devel) (0123456789ab)"
// for a build in a checkout; "+dirty" when it had changes).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " (" + rev + dirty + ")"
	}
	return v
}
