package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a running s3thumb process that serves HTTP: `s3thumb serve`,
// or `s3thumb work` with its metrics listener.
type server struct {
	cmd  *exec.Cmd
	addr string // host:port
	logs *tail
	done chan struct{}
	err  error // set when done is closed
}

// startServer runs `BINARY serve --listen 127.0.0.1:0 ARGS...` and waits
// for it to say where it listens.
func startServer(ctx context.Context, binary string, args []string) (*server, error) {
	return startProcess(ctx, binary, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), nil)
}

// startProcess runs `BINARY ARGS...` with MALLOC_ARENA_MAX=2 (as `make run`
// and the field notes advise) and JSON logs at level info (ARGS may ask for
// another level with --log-level), and waits for its "serving" log line.
// onLine, when not nil, sees every log line, from the log's goroutine.
func startProcess(ctx context.Context, binary string, args []string, onLine func([]byte)) (*server, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "MALLOC_ARENA_MAX=2", "S3THUMB_LOG_FORMAT=json", "S3THUMB_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	name := "s3thumb"
	if i := slices.IndexFunc(args, func(a string) bool { return a == "serve" || a == "work" }); i >= 0 {
		name += " " + args[i]
	}
	s := &server{cmd: cmd, logs: &tail{max: 40}, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.add(string(line))
			if onLine != nil {
				onLine(line)
			}
			if a := servingAddr(line); a != "" {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case s.addr = <-addrc:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before listening (%v):\n%s", name, s.err, s.logs)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not listen within 30s:\n%s", name, s.logs)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// servingAddr returns the host:port of the server's JSON "serving" log line,
// or "" for any other line.
func servingAddr(line []byte) string {
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &rec) != nil || rec.Msg != "serving" {
		return ""
	}
	return strings.TrimPrefix(rec.Addr, "http://")
}

// stop ends the server with SIGTERM, then SIGKILL after 15 s.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// url is the server's URL for path.
func (s *server) url(path string) string { return "http://" + s.addr + path }

// cpu is the CPU time (user + system, all threads) the server has used.
func (s *server) cpu() (time.Duration, error) {
	return procCPU(s.cmd.Process.Pid)
}

// peakRSS is the server's peak resident set size (VmHWM) in bytes.
func (s *server) peakRSS() (int64, error) {
	return procPeakRSS(s.cmd.Process.Pid)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// procCPU reads utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	return parseStatCPU(data)
}

// parseStatCPU takes utime and stime (fields 14 and 15) from the text of
// /proc/PID/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// procPeakRSS reads VmHWM from /proc/PID/status.
func procPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	return parseStatusKB(data, "VmHWM")
}

// parseStatusKB reads a "Name:   1234 kB" line of /proc/PID/status, in bytes.
func parseStatusKB(data []byte, name string) (int64, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: bad %s line %q", name, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: %s: %w", name, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", name)
}

// metric reads the value of one unlabelled series from /metrics.
func (s *server) metric(ctx context.Context, client *http.Client, name string) (float64, error) {
	body, err := s.metrics(ctx, client)
	if err != nil {
		return 0, err
	}
	return parseMetric(body, name)
}

// metrics reads /metrics.
func (s *server) metrics(ctx context.Context, client *http.Client) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("/metrics"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("get metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get metrics: status %d", resp.StatusCode)
	}
	return body, nil
}

// parseMetric finds `NAME VALUE` in the Prometheus text format.
func parseMetric(body []byte, name string) (float64, error) {
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// tail keeps the last lines of a log.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
