package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/testkit"
)

// consumerEnv, when set, makes the test binary a queue consumer process
// (see runConsumer) instead of running tests.
const consumerEnv = "S3THUMB_QUEUE_TEST_CONSUMER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(consumerEnv); cfg != "" {
		os.Exit(runConsumer(cfg))
	}
	os.Exit(m.Run())
}

func openFileHarness(t *testing.T, vt time.Duration, maxReceives int) (Queue, func() []string) {
	dir := t.TempDir()
	q, err := OpenFile(dir, Options{VisibilityTimeout: vt, MaxReceives: maxReceives, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return q, func() []string { return deadBodies(t, dir) }
}

func TestFileQueueConformance(t *testing.T) {
	t.Parallel()
	testConformance(t, harness{open: openFileHarness, tick: 500 * time.Millisecond})
}

// deadBodies lists the bodies in a file queue's dead folder, sorted.
func deadBodies(t *testing.T, dir string) []string {
	t.Helper()
	var bodies []string
	for _, name := range testkit.DirNames(t, filepath.Join(dir, deadDir)) {
		if strings.HasSuffix(name, reasonExt) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, deadDir, name))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	slices.Sort(bodies)
	return bodies
}

func TestFileQueueDeadReasons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	q, err := OpenFile(dir, Options{MaxReceives: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustSend(t, q, "bad", "retried")
	for range 2 {
		m := receiveOne(t, q, time.Second)
		if string(m.Body) == "bad" {
			err = q.DeadLetter(ctx, m, "malformed job: no version")
		} else {
			err = q.ChangeVisibility(ctx, m, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := receiveAll(t, q, 0); len(got) > 0 {
		t.Fatalf("received %+v after max receives", got)
	}
	reasons := map[string]string{}
	for _, name := range testkit.DirNames(t, filepath.Join(dir, deadDir)) {
		if base, ok := strings.CutSuffix(name, reasonExt); ok {
			body, err1 := os.ReadFile(filepath.Join(dir, deadDir, base))
			reason, err2 := os.ReadFile(filepath.Join(dir, deadDir, name))
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			reasons[string(body)] = string(reason)
		}
	}
	for body, want := range map[string]string{"bad": "malformed job: no version", "retried": "received 1 times (max receives 1)"} {
		if !strings.Contains(reasons[body], want) {
			t.Errorf("reason for %q = %q, want it to say %q", body, reasons[body], want)
		}
	}
}

func TestFileQueueStaleHandle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := OpenFile(t.TempDir(), Options{VisibilityTimeout: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustSend(t, q, "contested")
	first := receiveOne(t, q, time.Second)
	second := receiveOne(t, q, 2*time.Second) // after the timeout, claimed anew
	if second.ID != first.ID || second.ReceiveCount != 2 {
		t.Fatalf("second receive %+v, want %s again", second, first.ID)
	}
	for name, err := range map[string]error{
		"Delete":           q.Delete(ctx, first),
		"ChangeVisibility": q.ChangeVisibility(ctx, first, time.Minute),
		"DeadLetter":       q.DeadLetter(ctx, first, "x"),
	} {
		if !errors.Is(err, ErrStaleHandle) {
			t.Errorf("%s with the first handle = %v, want ErrStaleHandle", name, err)
		}
	}
	// The second claimant's message is untouched by all that.
	if err := q.ChangeVisibility(ctx, second, time.Minute); err != nil {
		t.Fatalf("ChangeVisibility of the live claim: %v", err)
	}
	if err := q.Delete(ctx, second); err != nil {
		t.Fatalf("Delete of the live claim: %v", err)
	}
	if err := q.Delete(ctx, second); !errors.Is(err, ErrStaleHandle) {
		t.Errorf("second Delete = %v, want ErrStaleHandle", err)
	}
}

func TestFileQueueSurvivesReopenAndIgnoresStrangers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	q1, err := OpenFile(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustSend(t, q1, "kept")
	for _, name := range []string{"notes.txt", "123.0", ".hidden"} {
		if err := os.WriteFile(filepath.Join(dir, readyDir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	q2, err := Open(ctx, "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q2.Depth(ctx); err != nil || n != 1 {
		t.Errorf("Depth = %d, %v; want 1", n, err)
	}
	got := receiveAll(t, q2, 0)
	if len(got) != 1 || string(got[0].Body) != "kept" {
		t.Fatalf("reopened queue received %+v, want the one message", got)
	}
	if q2.String() != "file://"+dir {
		t.Errorf("String = %q", q2.String())
	}
}

func TestParseNames(t *testing.T) {
	id := "01767225600000000000-0123456789abcdef"
	tests := []struct {
		name     string
		ready    bool
		inflight bool
		n        int
	}{
		{id + ".0", true, false, 0},
		{id + ".12", true, false, 12},
		{id + ".3.fedcba9876543210", false, true, 3},
		{id + ".03", false, false, 0},
		{id + ".", false, false, 0},
		{id + ".-1", false, false, 0},
		{id + ".1.FEDCBA9876543210", false, false, 0},
		{id + ".1.fedcba987654321", false, false, 0},
		{id + ".1.fedcba9876543210.x", false, false, 0},
		{id + ".1" + reasonExt, false, false, 0},
		{"w-12345", false, false, 0},
		{"1767225600000000000-0123456789abcdef.0", false, false, 0},
		{"01767225600000000000_0123456789abcdef.0", false, false, 0},
	}
	for _, tt := range tests {
		_, n, ok := parseReady(tt.name)
		if ok != tt.ready || ok && n != tt.n {
			t.Errorf("parseReady(%q) = %d, %v", tt.name, n, ok)
		}
		_, n, _, ok = parseInflight(tt.name)
		if ok != tt.inflight || ok && n != tt.n {
			t.Errorf("parseInflight(%q) = %d, %v", tt.name, n, ok)
		}
	}
	if got := idTime(id); !got.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("idTime = %v", got)
	}
}

// consumerConfig tells a consumer process what to do.
type consumerConfig struct {
	Queue      string        // queue directory
	Results    string        // where to record handled messages
	Visibility time.Duration // visibility timeout
	Work       time.Duration // time each message takes
	Goroutines int           // concurrent receive loops
}

// runConsumer is the main of a consumer process. For every message it
// creates Results/BODY exclusively (or Results/BODY.dup.ID.N if that exists:
// a second handling), works for Work, then deletes the message. It writes
// Results/ready.PID when it starts and stops when Results/stop exists.
func runConsumer(raw string) int {
	var cfg consumerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "consumer config:", err)
		return 2
	}
	q, err := OpenFile(cfg.Queue, Options{VisibilityTimeout: cfg.Visibility, PollInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	pid := strconv.Itoa(os.Getpid())
	if err := os.WriteFile(filepath.Join(cfg.Results, "ready."+pid), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Goroutines)
	for range cfg.Goroutines {
		wg.Go(func() {
			for {
				if _, err := os.Stat(filepath.Join(cfg.Results, "stop")); err == nil {
					return
				}
				msgs, err := q.Receive(ctx, MaxBatch, 100*time.Millisecond)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range msgs {
					record := fmt.Sprintf("%s %s %d\n", pid, m.ID, m.ReceiveCount)
					path := filepath.Join(cfg.Results, string(m.Body))
					f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
					if errors.Is(err, os.ErrExist) {
						f, err = os.Create(fmt.Sprintf("%s.dup.%s.%d", path, m.ID, m.ReceiveCount))
					}
					if err == nil {
						_, err = f.WriteString(record)
						err = errors.Join(err, f.Close())
					}
					time.Sleep(cfg.Work)
					if err == nil {
						err = q.Delete(ctx, m)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	return 0
}

// consumer is a running consumer process.
type consumer struct {
	cmd    *exec.Cmd
	output bytes.Buffer
	done   chan error
}

func startConsumer(t *testing.T, cfg consumerConfig) *consumer {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), consumerEnv+"="+string(raw))
	c.cmd.Stdout, c.cmd.Stderr = &c.output, &c.output
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	testkit.WaitFor(t, 30*time.Second, "consumer to start", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Results, "ready."+strconv.Itoa(c.cmd.Process.Pid)))
		return err == nil
	})
	return c
}

// wait waits for the consumer to exit and fails the test unless it exits 0.
func (c *consumer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("consumer %d: %v\n%s", c.cmd.Process.Pid, err, c.output.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("consumer %d did not stop", c.cmd.Process.Pid)
	}
}

// handling is one record a consumer wrote.
type handling struct {
	body, pid, id string
	receiveCount  int
	dup           bool
}

// readResults reads what consumers recorded.
func readResults(t *testing.T, dir string) []handling {
	t.Helper()
	var hs []handling
	for _, name := range testkit.DirNames(t, dir) {
		if !strings.HasPrefix(name, "job-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var h handling
		if _, err := fmt.Sscanf(string(b), "%s %s %d\n", &h.pid, &h.id, &h.receiveCount); err != nil {
			continue // being written
		}
		h.body, _, h.dup = strings.Cut(name, ".dup.")
		hs = append(hs, h)
	}
	return hs
}

// sendJobs sends n bodies job-000, job-001, ...
func sendJobs(t *testing.T, q Queue, n int) []string {
	t.Helper()
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("job-%03d", i)
	}
	mustSend(t, q, bodies...)
	return bodies
}

// checkDrained fails unless the queue directory holds no messages at all.
func checkDrained(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{readyDir, inflightDir, deadDir} {
		if names := testkit.DirNames(t, filepath.Join(dir, sub)); len(names) > 0 {
			t.Errorf("%s/ still holds %d files, e.g. %s", sub, len(names), names[0])
		}
	}
}

func TestFileQueueCompetingProcesses(t *testing.T) {
	t.Parallel()
	qdir, results := t.TempDir(), t.TempDir()
	q, err := OpenFile(qdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumerConfig{Queue: qdir, Results: results, Visibility: time.Minute, Work: 2 * time.Millisecond, Goroutines: 2}
	consumers := []*consumer{startConsumer(t, cfg), startConsumer(t, cfg)}
	bodies := sendJobs(t, q, 500)

	testkit.WaitFor(t, 2*time.Minute, "500 messages handled", func() bool { return len(readResults(t, results)) >= len(bodies) })
	if err := os.WriteFile(filepath.Join(results, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		c.wait(t)
	}

	byPid := map[string]int{}
	handled := map[string]int{}
	for _, h := range readResults(t, results) {
		handled[h.body]++
		byPid[h.pid]++
		if h.dup || h.receiveCount != 1 {
			t.Errorf("%s handled again (receive count %d) by %s", h.body, h.receiveCount, h.pid)
		}
	}
	for _, b := range bodies {
		if handled[b] != 1 {
			t.Errorf("%s handled %d times, want once", b, handled[b])
		}
	}
	for _, c := range consumers {
		if pid := strconv.Itoa(c.cmd.Process.Pid); byPid[pid] == 0 {
			t.Errorf("consumer %s handled nothing: the processes did not compete (%v)", pid, byPid)
		}
	}
	checkDrained(t, qdir)
}

func TestFileQueueKilledConsumer(t *testing.T) {
	t.Parallel()
	qdir, results := t.TempDir(), t.TempDir()
	q, err := OpenFile(qdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bodies := sendJobs(t, q, 500)
	const vt = 2 * time.Second
	victim := startConsumer(t, consumerConfig{Queue: qdir, Results: results, Visibility: vt, Work: 20 * time.Millisecond, Goroutines: 1})
	// Killed in the middle of its third batch of 10: it holds some messages
	// it has handled but not deleted, and some it has not begun.
	testkit.WaitFor(t, time.Minute, "the victim to handle 25 messages", func() bool { return len(readResults(t, results)) >= 25 })
	if err := victim.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-victim.done

	// What the victim held when it died: claimed, perhaps handled, never deleted.
	held := map[string]bool{}
	for _, name := range testkit.DirNames(t, filepath.Join(qdir, inflightDir)) {
		if id, _, _, ok := parseInflight(name); ok {
			held[id] = true
		}
	}
	if len(held) == 0 {
		t.Fatal("the victim held no messages when killed; the test proves nothing")
	}

	rescuer := startConsumer(t, consumerConfig{Queue: qdir, Results: results, Visibility: vt, Work: time.Millisecond, Goroutines: 2})
	testkit.WaitFor(t, 2*time.Minute, "every message handled and deleted", func() bool {
		seen := map[string]bool{}
		for _, h := range readResults(t, results) {
			seen[h.body] = true
		}
		return len(seen) == len(bodies) &&
			len(testkit.DirNames(t, filepath.Join(qdir, readyDir))) == 0 && len(testkit.DirNames(t, filepath.Join(qdir, inflightDir))) == 0
	})
	if err := os.WriteFile(filepath.Join(results, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rescuer.wait(t)

	rescuerPid := strconv.Itoa(rescuer.cmd.Process.Pid)
	redelivered := map[string]bool{}
	for _, h := range readResults(t, results) {
		if h.pid == rescuerPid && held[h.id] {
			if h.receiveCount < 2 {
				t.Errorf("%s, held by the victim, came to the rescuer with receive count %d", h.body, h.receiveCount)
			}
			redelivered[h.id] = true
		}
		if h.dup && !held[h.id] {
			t.Errorf("%s handled twice though the victim did not hold it", h.body)
		}
	}
	t.Logf("the victim held %d messages when killed", len(held))
	if len(redelivered) != len(held) {
		t.Errorf("%d messages held by the killed consumer, %d redelivered to the rescuer", len(held), len(redelivered))
	}
	checkDrained(t, qdir)
}
