package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	return "S3THUMB_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv gives every flag its S3THUMB_<FLAG> environment variable, so no
// flag can be added without one.
func withEnv(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		env := []string{envName(f.Names()[0])}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.EnvVars = env
		case *cli.BoolFlag:
			f.EnvVars = env
		case *cli.IntFlag:
			f.EnvVars = env
		case *cli.Int64Flag:
			f.EnvVars = env
		case *cli.Float64Flag:
			f.EnvVars = env
		case *cli.DurationFlag:
			f.EnvVars = env
		case *cli.StringSliceFlag:
			f.EnvVars = env
		case *cli.TimestampFlag:
			f.EnvVars = env
		default:
			panic(fmt.Sprintf("withEnv: flag type %T has no case", f)) // a programming error, caught by the tests
		}
	}
	return flags
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
