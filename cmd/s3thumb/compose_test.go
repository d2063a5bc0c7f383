package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	yaml "go.yaml.in/yaml/v2"
)

// The deployment files that run s3thumb, relative to this package. Docker
// cannot run here: this test keeps them in step with the CLI instead.
const (
	repoRoot   = "../.."
	composeYML = repoRoot + "/docker-compose.yml"
	dockerfile = repoRoot + "/Dockerfile"
	deployDir  = repoRoot + "/scripts/deploy"
)

// invocation is one run of s3thumb found in a deployment file.
type invocation struct {
	where string   // "docker-compose.yml service worker"
	args  []string // what follows the program name
	env   []string // S3THUMB_ variables set for it
}

// checkInvocation reports every command, flag and S3THUMB_ variable of inv
// that the CLI does not have. It returns the command's name ("" if none).
func checkInvocation(app *cli.App, pending map[string]string, inv invocation) (string, []string) {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, inv.where+": "+fmt.Sprintf(format, args...))
	}
	args := inv.args
	// Global flags come before the command.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, hasValue := flagToken(args[0])
		f := findFlag(app.Flags, name)
		if f == nil {
			bad("s3thumb %s: no such global flag (before the command only --%s)", args[0], strings.Join(flagNamesOf(app.Flags), ", --"))
			return "", problems
		}
		args = args[1:]
		if _, isBool := f.(*cli.BoolFlag); !isBool && !hasValue && len(args) > 0 {
			args = args[1:]
		}
	}
	if len(args) == 0 {
		bad("s3thumb without a command")
		return "", problems
	}
	name := args[0]
	cmd := app.Command(name)
	if cmd == nil {
		if _, ok := pending[name]; ok {
			return name, nil // reported by the caller
		}
		var names []string
		for _, c := range app.Commands {
			names = append(names, c.Name)
		}
		bad("s3thumb %s: no such command (s3thumb has: %s)", name, strings.Join(names, ", "))
		return name, problems
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		flag, _ := flagToken(a)
		if flag == "help" || flag == "h" {
			continue
		}
		if findFlag(cmd.Flags, flag) == nil {
			bad("s3thumb %s %s: %s has no flag --%s", name, a, name, flag)
		}
	}
	for _, env := range inv.env {
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "S3THUMB_")), "_", "-")
		if findFlag(cmd.Flags, flag) == nil && findFlag(app.Flags, flag) == nil {
			bad("%s is set, but s3thumb %s has no flag --%s", env, name, flag)
		}
	}
	return name, problems
}

// flagToken reads "--name" or "--name=value".
func flagToken(tok string) (name string, hasValue bool) {
	name, _, hasValue = strings.Cut(strings.TrimLeft(tok, "-"), "=")
	return name, hasValue
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func flagNamesOf(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.Names()[0])
	}
	return out
}

// envVars picks the S3THUMB_ variables of an environment, sorted.
func envVars[V any](env map[string]V) []string {
	var out []string
	for k := range env {
		if strings.HasPrefix(k, "S3THUMB_") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// shellInvocations finds the s3thumb runs in a shell command line: the
// program is a word named s3thumb (or ending in /s3thumb), and its
// arguments run to the next ; & | or redirection.
func shellInvocations(where, line string, env []string) []invocation {
	var out []invocation
	words := strings.Fields(regexp.MustCompile(`(;|&&|\|\||\|)`).ReplaceAllString(line, " $1 "))
	for i := 0; i < len(words); i++ {
		if words[i] != "s3thumb" && !strings.HasSuffix(words[i], "/s3thumb") {
			continue
		}
		inv := invocation{where: where, env: env}
		for i++; i < len(words); i++ {
			w := words[i]
			if w == ";" || w == "&&" || w == "||" || w == "|" || w == "&" || strings.ContainsAny(w[:1], "<>") || strings.HasPrefix(w, "2>") {
				break
			}
			inv.args = append(inv.args, w)
		}
		out = append(out, inv)
	}
	return out
}

// stringList reads a compose command or entrypoint: a list, or a string
// to split on blanks.
func stringList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = fmt.Sprint(e)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Entrypoint  any               `yaml:"entrypoint"`
	Command     any               `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck struct {
		Test    any  `yaml:"test"`
		Disable bool `yaml:"disable"`
	} `yaml:"healthcheck"`
}

// composeInvocations reads the s3thumb runs of docker-compose.yml: each
// service built from the Dockerfile (whose entrypoint is s3thumb), and the
// health checks that run s3thumb probe.
func composeInvocations(t *testing.T) []invocation {
	t.Helper()
	data, err := os.ReadFile(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docker-compose.yml is not YAML: %v", err)
	}
	if len(doc.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	var out []invocation
	for _, name := range slices.Sorted(maps.Keys(doc.Services)) {
		svc := doc.Services[name]
		where := "docker-compose.yml service " + name
		ours := svc.Build != nil || strings.HasPrefix(svc.Image, "s3thumb")
		env := envVars(svc.Environment)
		if !ours {
			if len(env) > 0 {
				t.Errorf("%s: sets %v but does not run s3thumb", where, env)
			}
			continue
		}
		entry, cmd := stringList(svc.Entrypoint), stringList(svc.Command)
		switch {
		case entry == nil:
			out = append(out, invocation{where: where, args: cmd, env: env})
		case len(entry) >= 2 && strings.HasSuffix(entry[0], "sh") && entry[len(entry)-1] == "-c":
			found := shellInvocations(where, strings.Join(cmd, " "), env)
			if len(found) == 0 {
				t.Errorf("%s: its shell command runs no s3thumb", where)
			}
			out = append(out, found...)
		case filepath.Base(entry[0]) == "s3thumb":
			out = append(out, invocation{where: where, args: append(entry[1:], cmd...), env: env})
		default:
			t.Errorf("%s: entrypoint %v: the test cannot tell what it runs", where, entry)
		}
		if test := stringList(svc.Healthcheck.Test); len(test) > 1 && test[0] == "CMD" && filepath.Base(test[1]) == "s3thumb" {
			out = append(out, invocation{where: where + " healthcheck", args: test[2:]})
		}
	}
	return out
}

// dockerfileInvocations reads the image's default command (ENTRYPOINT +
// CMD, with the S3THUMB_ variables of ENV) and its HEALTHCHECK.
func dockerfileInvocations(t *testing.T) []invocation {
	t.Helper()
	lines := logicalLines(t, dockerfile, "#")
	var entry, cmd []string
	var env []string
	var out []invocation
	jsonArgs := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil {
			t.Errorf("Dockerfile: %q is not a JSON list (exec form): %v", s, err)
		}
		return v
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			entry, cmd, env = nil, nil, nil // only the last stage is the image
		case "ENTRYPOINT":
			entry = jsonArgs(rest)
		case "CMD":
			cmd = jsonArgs(rest)
		case "ENV":
			for _, w := range strings.Fields(rest) {
				if k, _, ok := strings.Cut(w, "="); ok && strings.HasPrefix(k, "S3THUMB_") {
					env = append(env, k)
				}
			}
		case "HEALTHCHECK":
			_, hc, ok := strings.Cut(rest, " CMD ")
			if !ok {
				t.Errorf("Dockerfile: HEALTHCHECK without CMD: %s", l)
				continue
			}
			args := jsonArgs(hc)
			if len(args) == 0 || filepath.Base(args[0]) != "s3thumb" {
				t.Errorf("Dockerfile: HEALTHCHECK runs %v, want s3thumb probe", args)
				continue
			}
			out = append(out, invocation{where: "Dockerfile HEALTHCHECK", args: args[1:]})
		}
	}
	if len(entry) != 1 || filepath.Base(entry[0]) != "s3thumb" {
		t.Fatalf("Dockerfile: ENTRYPOINT %v, want [\"s3thumb\"] (one image for every command)", entry)
	}
	return append(out, invocation{where: "Dockerfile CMD", args: cmd, env: env})
}

// logicalLines reads a file, joining lines continued with a backslash and
// dropping blank lines and comments.
func logicalLines(t *testing.T, path, comment string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, comment)) {
			continue
		}
		if more, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// unitInvocations reads a systemd unit's ExecStart, with the S3THUMB_
// variables of its Environment= lines and of the env file named by
// EnvironmentFile=, which must ship beside it.
func unitInvocations(t *testing.T, path string) []invocation {
	t.Helper()
	var env []string
	var starts []string
	for _, l := range logicalLines(t, path, "#") {
		key, val, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch key {
		case "ExecStart":
			starts = append(starts, val)
		case "Environment":
			for _, w := range strings.Fields(val) {
				if k, _, ok := strings.Cut(strings.Trim(w, `"`), "="); ok && strings.HasPrefix(k, "S3THUMB_") {
					env = append(env, k)
				}
			}
		case "EnvironmentFile":
			env = append(env, envFileVars(t, filepath.Join(filepath.Dir(path), filepath.Base(strings.TrimPrefix(val, "-"))))...)
		}
	}
	if len(starts) != 1 {
		t.Errorf("%s: %d ExecStart lines, want 1", path, len(starts))
		return nil
	}
	found := shellInvocations(filepath.Base(path), starts[0], env)
	if len(found) != 1 {
		t.Errorf("%s: ExecStart %q does not run s3thumb once", path, starts[0])
	}
	return found
}

// envFileVars reads the S3THUMB_ variables of an env file.
func envFileVars(t *testing.T, path string) []string {
	t.Helper()
	vars := map[string]bool{}
	for _, l := range logicalLines(t, path, "#") {
		if k, _, ok := strings.Cut(l, "="); ok {
			vars[strings.TrimSpace(k)] = true
		}
	}
	return envVars(vars)
}

// cronInvocations reads a cron.d file: variables, then lines of five time
// fields, a user and a command.
func cronInvocations(t *testing.T, path string) []invocation {
	t.Helper()
	var env []string
	var out []invocation
	assign := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	for _, l := range logicalLines(t, path, "#") {
		if assign.MatchString(l) {
			if k, _, _ := strings.Cut(l, "="); strings.HasPrefix(k, "S3THUMB_") {
				env = append(env, k)
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Errorf("%s: %q is not a cron.d line (5 time fields, a user, a command)", path, l)
			continue
		}
		found := shellInvocations(filepath.Base(path), strings.Join(f[6:], " "), env)
		if len(found) == 0 {
			t.Errorf("%s: %q runs no s3thumb", path, l)
		}
		out = append(out, found...)
	}
	return out
}

// cronJobInvocations reads the containers of a Kubernetes CronJob that run
// the s3thumb image (whose entrypoint is s3thumb).
func cronJobInvocations(t *testing.T, path string) []invocation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind string `yaml:"kind"`
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Name    string   `yaml:"name"`
								Image   string   `yaml:"image"`
								Command []string `yaml:"command"`
								Args    []string `yaml:"args"`
								Env     []struct {
									Name string `yaml:"name"`
								} `yaml:"env"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Kind != "CronJob" {
		t.Errorf("%s: kind %q, want CronJob", path, doc.Kind)
	}
	var out []invocation
	for _, c := range doc.Spec.JobTemplate.Spec.Template.Spec.Containers {
		vars := map[string]bool{}
		for _, e := range c.Env {
			vars[e.Name] = true
		}
		args := c.Args
		if len(c.Command) > 0 {
			if filepath.Base(c.Command[0]) != "s3thumb" {
				t.Errorf("%s container %s: command %v, want s3thumb (or none: the image's entrypoint)", path, c.Name, c.Command)
				continue
			}
			args = append(c.Command[1:], c.Args...)
		}
		out = append(out, invocation{where: filepath.Base(path) + " container " + c.Name, args: args, env: envVars(vars)})
	}
	if len(out) == 0 {
		t.Errorf("%s: no containers", path)
	}
	return out
}

// TestComposeAndDeployFilesMatchTheCLI checks that every s3thumb command,
// flag and S3THUMB_ variable that docker-compose.yml, the Dockerfile, the
// systemd units, the cron entry and the CronJob use exists in the CLI, so
// that none of them can drift from it unseen.
func TestComposeAndDeployFilesMatchTheCLI(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	var all []invocation
	all = append(all, composeInvocations(t)...)
	all = append(all, dockerfileInvocations(t)...)
	units, _ := filepath.Glob(filepath.Join(deployDir, "*.service"))
	crons, _ := filepath.Glob(filepath.Join(deployDir, "*.cron"))
	if len(units) < 2 || len(crons) < 1 {
		t.Fatalf("scripts/deploy has %d systemd units and %d cron files, want the responder's and the worker's units and the analyzer's cron entry", len(units), len(crons))
	}
	for _, u := range units {
		all = append(all, unitInvocations(t, u)...)
	}
	for _, c := range crons {
		all = append(all, cronInvocations(t, c)...)
	}
	all = append(all, cronJobInvocations(t, filepath.Join(deployDir, "analyzer-cronjob.yaml"))...)
	all = append(all, cronJobInvocations(t, filepath.Join(deployDir, "analyzer-sharded-cronjob.yaml"))...)

	// Commands the files may name before they exist in the CLI, with the
	// reason: each is reported, not failed, until it lands (and then this
	// test says to remove it from here). None now.
	pendingCommands := map[string]string{}
	used := map[string][]string{}
	for _, inv := range all {
		name, problems := checkInvocation(app, pendingCommands, inv)
		for _, p := range problems {
			t.Error(p)
		}
		used[name] = append(used[name], inv.where)
	}
	for name, why := range pendingCommands {
		if app.Command(name) != nil {
			t.Errorf("s3thumb %s exists now: remove it from pendingCommands so that its flags are checked", name)
		} else if len(used[name]) > 0 {
			t.Logf("not checked yet: s3thumb %s (%s), used by %v", name, why, used[name])
		}
	}
	// The stack runs every role.
	for _, role := range []string{"setup", "serve", "work", "analyze", "probe"} {
		if !slices.ContainsFunc(used[role], func(w string) bool {
			return strings.HasPrefix(w, "docker-compose.yml") || strings.HasPrefix(w, "Dockerfile")
		}) {
			t.Errorf("docker-compose.yml and the Dockerfile never run s3thumb %s", role)
		}
	}
}

// TestComposeServicesHaveHealthChecks checks that each long-running s3thumb
// service that does not serve the responder's /healthz on 8080 (the image's
// HEALTHCHECK) disables that check or brings its own.
func TestComposeServicesHaveHealthChecks(t *testing.T) {
	data, err := os.ReadFile(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for name, svc := range doc.Services {
		if svc.Build == nil && !strings.HasPrefix(svc.Image, "s3thumb") {
			continue
		}
		cmd := stringList(svc.Command)
		serves := len(cmd) > 0 && cmd[0] == "serve" && svc.Entrypoint == nil
		if !serves && !svc.Healthcheck.Disable && svc.Healthcheck.Test == nil {
			t.Errorf("service %s does not serve /healthz on 8080: disable the image's health check or give it one", name)
		}
	}
}

// TestComposeCheckerReports checks that the checker itself finds what it
// is for: unknown commands, flags and variables, each named clearly.
func TestComposeCheckerReports(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	tests := []struct {
		inv  invocation
		want string // "" for no problem
	}{
		{invocation{where: "x", args: []string{"--log-format", "json", "serve", "--listen", ":8080", "--front"}, env: []string{"S3THUMB_STORE", "S3THUMB_LOG_LEVEL"}}, ""},
		{invocation{where: "x", args: []string{"serve", "--max-concurrent=4"}}, ""},
		{invocation{where: "x", args: []string{"analyse", "--logs", "s3://l/"}}, "x: s3thumb analyse: no such command (s3thumb has: serve, work"},
		{invocation{where: "x", args: []string{"serve", "--lisen", ":80"}}, "x: s3thumb serve --lisen: serve has no flag --lisen"},
		{invocation{where: "x", args: []string{"work"}, env: []string{"S3THUMB_RESPONDER_URL"}}, "x: S3THUMB_RESPONDER_URL is set, but s3thumb work has no flag --responder-url"},
		{invocation{where: "x", args: []string{"--verbose", "serve"}}, "x: s3thumb --verbose: no such global flag"},
		{invocation{where: "x", args: nil}, "x: s3thumb without a command"},
		{invocation{where: "x", args: []string{"janitor", "--anything"}}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.inv.args, " "), func(t *testing.T) {
			_, problems := checkInvocation(app, map[string]string{"janitor": "comes later"}, tt.inv)
			got := strings.Join(problems, "\n")
			if tt.want == "" && got != "" || tt.want != "" && !strings.HasPrefix(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
	got := shellInvocations("cron", `/usr/local/bin/s3thumb --log-format json analyze --logs s3://l/ >>/var/log/a 2>&1 || [ $? -eq 3 ]; s3thumb probe http://x`, nil)
	if len(got) != 2 || strings.Join(got[0].args, " ") != "--log-format json analyze --logs s3://l/" || strings.Join(got[1].args, " ") != "probe http://x" {
		t.Errorf("shell invocations %+v", got)
	}
}
