package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/analytics/accesslog"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// TestEveryFlagIsSettableAndDocumented checks that every flag of every
// command has its S3THUMB_ environment variable and a row in the README.
func TestEveryFlagIsSettableAndDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(io.Discard, io.Discard)
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			name := f.Names()[0]
			env := envName(name)
			ev, ok := f.(interface{ GetEnvVars() []string })
			if !ok || len(ev.GetEnvVars()) != 1 || ev.GetEnvVars()[0] != env {
				t.Errorf("%s --%s: environment variable is not %s", where, name, env)
			}
			if !bytes.Contains(readme, []byte("`--"+name+"`")) {
				t.Errorf("%s --%s: not documented in README.md", where, name)
			}
		}
	}
	check("s3thumb", app.Flags)
	for _, cmd := range app.Commands {
		check(cmd.Name, cmd.Flags)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--default-mode", "stretch"}, "unknown mode"},
		{[]string{"serve", "--allowed-sizes", "200"}, "want WxH"},
		{[]string{"serve", "--background", "white"}, "not a colour"},
		{[]string{"serve", "--jpeg-quality", "101"}, "quality 101"},
		{[]string{"serve", "--max-concurrent", "0"}, "--max-concurrent 0"},
		{[]string{"serve", "--source-exts", "jpg,exe"}, `"exe"`},
		{[]string{"serve", "--no-such-flag"}, "no-such-flag"},
		{[]string{"--log-format", "xml", "serve"}, "--log-format"},
		{[]string{"serve", "--store", "ftp://x"}, "bad store URL"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := newApp(io.Discard, &stderr).RunContext(context.Background(), append([]string{"s3thumb"}, tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Fatalf("exit code %d, want %d (usage)", code, exitUsage)
			}
		})
	}
}

// TestServeProcess runs the real binary: the local default's flow through
// the front, settings from the environment, probes, metrics, and a graceful
// exit on SIGTERM.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "s3thumb")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	photo, err := os.ReadFile("../../scripts/sample/kleiber.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "kleiber.jpg"), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--store", "file://"+data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "S3THUMB_MAX_DIMENSION=300", "S3THUMB_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	addr, seen := "", ""
	for addr == "" && lines.Scan() {
		seen += lines.Text() + "\n"
		if m := regexp.MustCompile(`"addr":"(http://[^"]+)"`).FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("the server never said where it listens; it said:\n%s", seen)
	}
	go io.Copy(io.Discard, stderr)

	get := func(path string) (int, string) {
		resp, err := http.Get(addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/kleiber_200x200.jpg"); code != 200 { // follows the front's redirect
		t.Fatalf("thumbnail through the front = %d", code)
	}
	if _, err := os.Stat(filepath.Join(data, "kleiber_200x200.jpg")); err != nil {
		t.Fatalf("thumbnail not stored: %v", err)
	}
	if code, body := get("/resize?src=kleiber_400x400.jpg"); code != 403 || !strings.Contains(body, "maximum of 300") {
		t.Fatalf("S3THUMB_MAX_DIMENSION ignored: %d %q", code, body)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `s3thumb_http_requests_total{code="200",route="resize"} 1`} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s = %d, want 200 with %q", path, code, want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}

	// The front's access log, written on the way out, reads as S3's does.
	records := map[string]bool{}
	logs, _ := filepath.Glob(filepath.Join(data, ".logs", "*"))
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := accesslog.NewReader(f, accesslog.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var rec accesslog.Record
		for r.Read(&rec) == nil {
			records[fmt.Sprintf("%s %s %d", rec.Operation, rec.Key, rec.HTTPStatus)] = true
			if rec.Kind() == accesslog.KindWrite && !thumbtag.ByAgent(rec.UserAgent) {
				t.Errorf("store-back %s logged with user agent %q: the analyzer would take it for an upload", rec.Key, rec.UserAgent)
			}
		}
		if st := r.Stats(); st.Malformed > 0 {
			t.Fatalf("%s: %d malformed lines", name, st.Malformed)
		}
		f.Close()
	}
	for _, want := range []string{"WEBSITE.GET.OBJECT kleiber_200x200.jpg 302", "REST.PUT.OBJECT kleiber_200x200.jpg 200"} {
		if !records[want] {
			t.Errorf("access log lacks %q; it has %v", want, records)
		}
	}
}
