package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a server may take to answer its first
	// request. Generous: the machines running the tests are shared.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM before its
	// process group is killed.
	stopTimeout = 5 * time.Second
	// startAttempts is how often a start is retried on a fresh port when the
	// server exits before answering (another process may have taken the port
	// between freePort and the server's bind).
	startAttempts = 3
	// outputLimit is how much of a server's output is kept for the test log.
	outputLimit = 64 << 10
)

// command describes how to run one server on a given port.
type command struct {
	name  string                         // for messages: "versitygw", "s3rver", ...
	ports int                            // how many ports it listens on (1 if 0)
	args  func(ports []int) []string     // argv[0] is the program
	env   func(ports []int) []string     // added to the test process's environment; may be nil
	urls  func(ports []int) []string     // each polled until it answers
	okay  func(resp *http.Response) bool // nil: any HTTP answer means ready
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
}

// start runs c on free loopback ports, waits until it answers on each of
// c.urls and arranges for t.Cleanup to stop it. It returns the ports. The server's output goes to
// the test log if the test fails or the server does not come up.
func start(t testing.TB, c command) []int {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := freePorts(max(c.ports, 1))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p, err := launch(c, ports)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = waitReady(p, c, ports)
		if err == nil {
			t.Cleanup(func() {
				if err := p.stop(); err != nil {
					t.Errorf("%s: stop: %v", c.name, err)
				}
				if t.Failed() {
					t.Logf("%s output (last %d bytes kept):\n%s", c.name, outputLimit, p.out.String())
				}
			})
			return ports
		}
		exited := p.exited()
		_ = p.stop()
		lastErr = fmt.Errorf("attempt %d on ports %v: %w\n%s output:\n%s", attempt, ports, err, c.name, p.out.String())
		if !exited {
			break // it ran but never answered: a new port will not help
		}
	}
	t.Fatalf("%s did not start: %v", c.name, lastErr)
	return nil
}

// launch starts the process in its own process group, so that stopping it
// also stops any children it spawned.
func launch(c command, ports []int) (*process, error) {
	argv := c.args(ports)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if c.env != nil {
		cmd.Env = append(cmd.Env, c.env(ports)...)
	}
	out := &tailBuffer{limit: outputLimit}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if it lingers.
func (p *process) stop() error {
	if p.exited() {
		return nil
	}
	pgid := -p.cmd.Process.Pid
	if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM process group %d: %w", -pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL process group %d: %w", -pgid, err)
	}
	<-p.done
	return nil
}

// waitReady polls each of the server's URLs until it answers as c.okay
// wants, the process exits, or startTimeout passes.
func waitReady(p *process, c command, ports []int) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{
		Timeout: 2 * time.Second,
		// A redirect is an answer; following it may leave 127.0.0.1.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, url := range c.urls(ports) {
		if err := poll(ctx, client, p, url, c.okay); err != nil {
			return err
		}
	}
	return nil
}

func poll(ctx context.Context, client *http.Client, p *process, url string, okay func(*http.Response) bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s within %v (last: %v)", url, startTimeout, lastErr)
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		if okay == nil || okay(resp) {
			return nil
		}
		lastErr = fmt.Errorf("answered %s", resp.Status)
	}
}

// freePorts asks the kernel for n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		// Held open until all are chosen, so that the kernel hands out
		// distinct ports.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopbackURL(port int) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// tailBuffer keeps the last limit bytes written to it; safe for concurrent
// use (a process's stdout and stderr write from different goroutines).
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
