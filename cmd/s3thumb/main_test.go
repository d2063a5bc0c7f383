package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
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

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
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
		{[]string{"work", "--store", "file://" + t.TempDir(), "--cloudfront-endpoint", "http://127.0.0.1:1"}, "--cloudfront-endpoint without --cloudfront-distribution-id"},
		{[]string{"work", "--store", "file://" + t.TempDir(), "--cloudfront-distribution-id", "E1/x", "--region", "us-east-1"}, "--cloudfront-distribution-id: CloudFront distribution ID"},
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
	bin := buildBinary(t)
	// The version names the revision it was built from (in a checkout).
	out, err := exec.Command(bin, "--version").Output()
	want := `^s3thumb version \S+ \([0-9a-f]{12}(\+dirty)?\)\n$`
	if exec.Command("git", "rev-parse", "HEAD").Run() != nil {
		want = `^s3thumb version \S+`
	}
	if err != nil || !regexp.MustCompile(want).Match(out) {
		t.Errorf("s3thumb --version = %q, %v; want the module version and the VCS revision", out, err)
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
	// A backfill job for the in-process worker: what it makes is logged as
	// the store-back is.
	if out, err := exec.Command(bin, "enqueue", "--store", "file://"+data, "--sizes", "100x100").CombinedOutput(); err != nil {
		t.Fatalf("enqueue: %v\n%s", err, out)
	}
	testkit.WaitFor(t, 30*time.Second, "the worker's thumbnail", func() bool {
		_, err := os.Stat(filepath.Join(data, "kleiber_100x100.jpg"))
		return err == nil
	})
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
	for _, want := range []string{"WEBSITE.GET.OBJECT kleiber_200x200.jpg 302", "REST.PUT.OBJECT kleiber_200x200.jpg 200",
		"REST.PUT.OBJECT kleiber_100x100.jpg 200"} {
		if !records[want] {
			t.Errorf("access log lacks %q; it has %v", want, records)
		}
	}
}

// buildBinary builds the s3thumb binary into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "s3thumb")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startServe starts `s3thumb serve` with args and returns the process, the
// address it serves on and its output so far (as it grows).
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *testkit.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "S3THUMB_LOG_FORMAT=json")
	out := &testkit.SyncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	re := regexp.MustCompile(`"addr":"(http://[^"]+)"`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return cmd, m[1], out
		}
	}
	t.Fatalf("the server never said where it listens; it said:\n%s", out.String())
	return nil, "", nil
}

// TestServeShutdownBounded: with resizes in flight past --shutdown-timeout,
// serve closes its connections and exits within the grace and a second,
// with exitAbandoned; temporary files a killed writer left are swept when
// it starts.
func TestServeShutdownBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	// A large original: each resize takes a good part of a second, one at
	// a time. A PNG, which no decoder shrinks on load: a JPEG's thumbnail
	// costs too little since the pipeline decodes it at an eighth.
	big := image.NewRGBA(image.Rect(0, 0, 6000, 4000))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 7 % 251)
	}
	var pngData bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&pngData, big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "big.png"), pngData.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(data, ".s3thumb-tmp-left-by-kill-9")
	if err := os.WriteFile(stale, []byte("half a thumbnail"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	cmd, addr, out := startServe(t, bin, "--store", "file://"+data, "--shutdown-timeout", "1s", "--max-concurrent", "1", "--workers", "0")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(stale); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the temporary file left by a killed write was not swept at start")
		}
	}
	for i := range 6 { // distinct keys: no coalescing
		go http.Get(fmt.Sprintf("%s/resize?src=big_%dx.jpg", addr, 100+i))
	}
	time.Sleep(500 * time.Millisecond) // the first resize is running, the rest wait
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(start)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitAbandoned {
			t.Errorf("exit after the grace: %v, want status %d (work abandoned)\n%s", err, exitAbandoned, out.String())
		}
		if took > 2*time.Second {
			t.Errorf("exited %v after SIGTERM, want within the 1s grace and 1s", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM with a 1s grace\n%s", out.String())
	}
}

// TestHelpSaysOneDefault: no flag's help gives two defaults (a usage text
// that names its own default and the library's "(default: false)").
func TestHelpSaysOneDefault(t *testing.T) {
	for _, cmd := range newApp(io.Discard, io.Discard).Commands {
		var out bytes.Buffer
		if err := newApp(&out, io.Discard).Run([]string{"s3thumb", cmd.Name, "--help"}); err != nil {
			t.Fatalf("%s --help: %v", cmd.Name, err)
		}
		for line := range strings.Lines(out.String()) {
			if strings.Count(line, "(default:") > 1 {
				t.Errorf("%s --help: two defaults in %q", cmd.Name, strings.TrimSpace(line))
			}
		}
	}
}

// TestLeavesLinkNoEngine: what setup, enqueue and the analyzer need (the
// size policy, the tag rule, the key grammar, the stores and the queue)
// does not link the image engine.
func TestLeavesLinkNoEngine(t *testing.T) {
	for _, pkg := range []string{"internal/awssetup", "internal/backfill", "analytics", "internal/policy", "internal/thumbtag", "internal/thumbkey", "internal/store", "internal/queue"} {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if strings.Contains(string(out), "h2non/bimg") {
			t.Errorf("%s links libvips (through bimg)", pkg)
		}
	}
}

// TestServeTakesJobFlags: serve --workers runs jobs as work does, so it
// takes the same job flags (defined once).
func TestServeTakesJobFlags(t *testing.T) {
	names := func(flags []cli.Flag) map[string]bool {
		out := map[string]bool{}
		for _, f := range flags {
			out[f.Names()[0]] = true
		}
		return out
	}
	serve, work := names(serveCommand().Flags), names(workCommand().Flags)
	for _, f := range append(jobFlags(), append(jobQueueFlags(), consumerFlags()...)...) {
		if name := f.Names()[0]; !serve[name] || !work[name] {
			t.Errorf("--%s: serve has it %v, work %v; want both", name, serve[name], work[name])
		}
	}
}

// TestServeMissesDirectlyProcess runs the real binary with
// S3THUMB_SERVE_MISSES_DIRECTLY: the local front answers a miss with the
// thumbnail instead of a 302, and on an S3 store (no front) the responder's
// own listener answers /KEY of a thumbnail, and only of a thumbnail.
func TestServeMissesDirectlyProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, starts versitygw")
	}
	bin := buildBinary(t)
	photo, err := os.ReadFile("../../scripts/sample/kleiber.jpg")
	if err != nil {
		t.Fatal(err)
	}
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "site")
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("S3THUMB_SERVE_MISSES_DIRECTLY", "true")
	s3st := store.NewS3(gw.Client(), "site", "")
	if err := s3st.Put(t.Context(), "kleiber.jpg", photo, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kleiber.jpg"), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	fileSt, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		name     string
		args     []string
		st       store.Store
		original int // status of GET /kleiber.jpg
	}{
		{"front", []string{"--store", "file://" + dir, "--access-log", "off", "--workers", "0"}, fileSt, 200},
		{"s3", []string{"--store", "s3://site", "--s3-endpoint", gw.Endpoint, "--s3-path-style", "--region", gw.Region}, s3st, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, addr, out := startServe(t, bin, tt.args...)
			get := func(path string) (*http.Response, []byte) {
				resp, err := noRedirect.Get(addr + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp, body
			}
			resp, body := get("/kleiber_160x90.jpg")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("miss = %d %s %q, want the thumbnail\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body, out)
			}
			if cfg, _, err := image.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != 160 || cfg.Height != 90 {
				t.Fatalf("miss answered %+v, %v; want a 160x90 JPEG", cfg, err)
			}
			stored := readAll(t, tt.st, "kleiber_160x90.jpg")
			if !bytes.Equal(stored, body) {
				t.Fatal("the stored thumbnail differs from the answer")
			}
			if resp, _ := get("/kleiber.jpg"); resp.StatusCode != tt.original {
				t.Fatalf("GET /kleiber.jpg = %d, want %d", resp.StatusCode, tt.original)
			}
		})
	}
}

// TestServeFollowsReplacedOriginal: with a directory store, serve watches
// the directory (as make run does, with the default --watch-interval):
// replace an original by hand and its stored thumbnail is remade from the
// new picture; delete it and the thumbnail goes; an untagged file named
// like a thumbnail stays.
func TestServeFollowsReplacedOriginal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	original := filepath.Join(data, "earth.jpg")
	if err := os.WriteFile(original, testkit.SolidJPEG(t, testkit.Red), 0o644); err != nil {
		t.Fatal(err)
	}
	untagged := filepath.Join(data, "earth_30x30.jpg")
	if err := os.WriteFile(untagged, testkit.SolidJPEG(t, testkit.Yellow), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--store", "file://"+data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "S3THUMB_LOG_FORMAT=json")
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
	resp, err := http.Get(addr + "/earth_40x40.jpg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	thumb := filepath.Join(data, "earth_40x40.jpg")
	colour := func(path string) color.RGBA {
		b, err := os.ReadFile(path)
		if err != nil {
			return color.RGBA{}
		}
		c, _ := testkit.Colour(b)
		return c
	}
	if resp.StatusCode != 200 || colour(thumb) != testkit.Red {
		t.Fatalf("thumbnail through the front = %d, stored %v; want 200, red", resp.StatusCode, colour(thumb))
	}

	// Replaced as a person would: a new file renamed over the old one.
	tmp := filepath.Join(data, "new-earth.tmp")
	if err := os.WriteFile(tmp, testkit.SolidJPEG(t, testkit.Blue), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, original); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	testkit.WaitFor(t, 30*time.Second, "the thumbnail remade blue", func() bool { return colour(thumb) == testkit.Blue })
	t.Logf("original replaced to thumbnail remade: %v", time.Since(replaced))

	if err := os.Remove(original); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	testkit.WaitFor(t, 30*time.Second, "the thumbnail deleted", func() bool {
		_, err := os.Stat(thumb)
		return errors.Is(err, fs.ErrNotExist)
	})
	t.Logf("original deleted to thumbnail deleted: %v", time.Since(removed))
	if colour(untagged) != testkit.Yellow {
		t.Errorf("the untagged earth_30x30.jpg changed: %v", colour(untagged))
	}
}
