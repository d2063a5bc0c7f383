package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3thumb/s3thumb/internal/atomicfile"
)

// FileQueue is a durable at-least-once queue in a directory, safe for
// several processes on one host. Each message is one file, always in exactly
// one of these folders, so a crash at any point loses none:
//
//	ready/ID.N          waiting; N is how many times it has been received
//	inflight/ID.N.TOKEN received for the N-th time, by the holder of TOKEN;
//	                    its modification time is its visibility deadline
//	dead/ID.N           dead-lettered, with the reason in dead/ID.N.reason
//	tmp/                bodies being written by Send
//
// ID is the send time in nanoseconds and a random suffix. Messages move
// between folders only by rename, which is atomic: of several consumers
// renaming the same ready file, exactly one succeeds. Receive takes ready
// messages in no particular order, as an SQS standard queue does. Deadlines
// are file times, compared with the wall clock of each process. Nothing
// empties dead/: that is the operator's call.
type FileQueue struct {
	dir  string
	opts Options
}

var _ Queue = (*FileQueue)(nil)

const (
	readyDir    = "ready"
	inflightDir = "inflight"
	deadDir     = "dead"
	tmpDir      = "tmp"
	reasonExt   = ".reason"
	// staleTmpAge is how old an abandoned temporary file must be before
	// OpenFile removes it.
	staleTmpAge = time.Hour
	// claimChunk is how many ready names Receive reads at a time.
	claimChunk = 64
	// sendChunk is how many bodies Send writes before flushing them.
	sendChunk = 64
	// syncConcurrency is how many files Send flushes at once.
	syncConcurrency = 16
)

// OpenFile opens the queue in dir, creating its folders when missing.
func OpenFile(dir string, opts Options) (*FileQueue, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open file queue %s: %w", dir, err)
	}
	opts = opts.withDefaults()
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open file queue %s: %w", dir, err)
	}
	for _, sub := range []string{readyDir, inflightDir, deadDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open file queue %s: %w", dir, err)
		}
	}
	q := &FileQueue{dir: abs, opts: opts}
	q.removeStaleTmp()
	return q, nil
}

// String is the queue's URL.
func (q *FileQueue) String() string { return "file://" + q.dir }

// Send writes the bodies to tmp/, flushes them to disk, then renames them
// into ready/ and flushes that folder. It writes sendChunk bodies before
// flushing any, so that the file system can commit them together.
func (q *FileQueue) Send(ctx context.Context, bodies [][]byte) error {
	se := &SendError{Total: len(bodies)}
	for start := 0; start < len(bodies); start += sendChunk {
		q.sendChunk(ctx, bodies, start, min(start+sendChunk, len(bodies)), se)
	}
	if len(se.Failed) > 0 {
		slices.Sort(se.Failed)
		return se
	}
	return nil
}

// sendChunk sends bodies[start:end], recording failures in se.
func (q *FileQueue) sendChunk(ctx context.Context, bodies [][]byte, start, end int, se *SendError) {
	fail := func(i int, err error) {
		se.Failed = append(se.Failed, i)
		if se.Err == nil {
			se.Err = err
		}
	}
	files := make([]*os.File, end-start)
	for i := start; i < end; i++ {
		err := ctx.Err()
		if err == nil {
			err = checkBody(bodies[i])
		}
		if err == nil {
			files[i-start], err = writeTemp(q.path(tmpDir), bodies[i])
		}
		if err != nil {
			fail(i, err)
		}
	}
	// Concurrent flushes share the file system's journal commits.
	synced := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(syncConcurrency)
	for n, f := range files {
		if f == nil {
			continue
		}
		g.Go(func() error {
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			synced[n] = err
			return nil
		})
	}
	_ = g.Wait()
	sent := 0
	for n, f := range files {
		if f == nil {
			continue
		}
		err := synced[n]
		if err == nil {
			err = os.Rename(f.Name(), q.path(readyDir, newID(time.Now())+".0"))
		}
		if err != nil {
			_ = os.Remove(f.Name())
			fail(start+n, fmt.Errorf("send to %s: %w", q, err))
			continue
		}
		sent++
	}
	if sent == 0 {
		return
	}
	if err := syncDir(q.path(readyDir)); err != nil {
		// The messages are in ready/ but may not survive a power cut.
		for n, f := range files {
			if f != nil && !slices.Contains(se.Failed, start+n) {
				fail(start+n, fmt.Errorf("send to %s: %w", q, err))
			}
		}
	}
}

// Receive claims up to limit ready messages, polling every PollInterval until
// one arrives, wait passes or ctx is done. Messages whose visibility timed
// out are made ready first; messages received MaxReceives times already go
// to dead/ instead of being delivered again.
func (q *FileQueue) Receive(ctx context.Context, limit int, wait time.Duration) ([]Message, error) {
	limit = clampBatch(limit)
	deadline := time.Now().Add(wait)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if err := q.requeueExpired(); err != nil {
			return nil, err
		}
		msgs, err := q.claim(limit)
		if len(msgs) > 0 {
			if err != nil { // it will come back on the next Receive if it lasts
				q.opts.Logger.Warn("receive cut short", slog.String("queue", q.String()), slog.Any("error", err))
			}
			return msgs, nil
		}
		if err != nil {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		timer.Reset(min(left, q.opts.PollInterval))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receive from %s: %w", q, ctx.Err())
		case <-timer.C:
		}
	}
}

// claim moves up to limit ready messages to inflight/ and reads them.
func (q *FileQueue) claim(limit int) ([]Message, error) {
	d, err := os.Open(q.path(readyDir))
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q, err)
	}
	defer d.Close()
	var msgs []Message
	for len(msgs) < limit {
		names, err := d.Readdirnames(claimChunk)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return msgs, fmt.Errorf("receive from %s: %w", q, err)
		}
		// Competing consumers read the same names: start each at a
		// different place so that they seldom race for the same file.
		mathrand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for _, name := range names {
			if len(msgs) == limit {
				break
			}
			m, ok, err := q.claimOne(name)
			if err != nil {
				return msgs, err
			}
			if ok {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs, nil
}

// claimOne claims ready/name; ok is false when another consumer got it
// first or it went to dead/.
func (q *FileQueue) claimOne(name string) (m Message, ok bool, err error) {
	id, n, valid := parseReady(name)
	if !valid {
		return Message{}, false, nil
	}
	src := q.path(readyDir, name)
	if n >= q.opts.MaxReceives {
		reason := fmt.Sprintf("received %d times (max receives %d)", n, q.opts.MaxReceives)
		if err := q.bury(src, name, reason); err != nil && !errors.Is(err, ErrStaleHandle) {
			return Message{}, false, err
		}
		return Message{}, false, nil
	}
	// The deadline is set before the rename, so that no other consumer ever
	// sees this claim in inflight/ with an old time and takes it back.
	deadline := time.Now().Add(q.opts.VisibilityTimeout)
	if err := os.Chtimes(src, deadline, deadline); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Message{}, false, nil
		}
		return Message{}, false, fmt.Errorf("receive from %s: %w", q, err)
	}
	handle := fmt.Sprintf("%s.%d.%s", id, n+1, newToken())
	dst := q.path(inflightDir, handle)
	if err := os.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Message{}, false, nil
		}
		return Message{}, false, fmt.Errorf("receive from %s: %w", q, err)
	}
	// A consumer that lost the race for this file may have set its own
	// deadline on it just before the rename: set ours again.
	if err := os.Chtimes(dst, deadline, deadline); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Message{}, false, nil // timed out already and taken back
		}
		return Message{}, false, fmt.Errorf("receive from %s: %w", q, err)
	}
	body, err := os.ReadFile(dst)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Message{}, false, nil
		}
		return Message{}, false, fmt.Errorf("receive from %s: %w", q, err)
	}
	return Message{ID: id, Body: body, ReceiveCount: n + 1, SentAt: idTime(id), handle: handle}, true, nil
}

// requeueExpired moves inflight messages whose deadline has passed back to
// ready/.
func (q *FileQueue) requeueExpired() error {
	entries, err := os.ReadDir(q.path(inflightDir))
	if err != nil {
		return fmt.Errorf("receive from %s: %w", q, err)
	}
	now := time.Now()
	for _, e := range entries {
		id, n, _, ok := parseInflight(e.Name())
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(now) {
			continue // gone already, or still hidden
		}
		err = os.Rename(q.path(inflightDir, e.Name()), q.path(readyDir, readyName(id, n)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("receive from %s: requeue %s: %w", q, id, err)
		}
	}
	return nil
}

// Delete removes an inflight message; ErrStaleHandle when the claim is no
// longer this one's.
func (q *FileQueue) Delete(ctx context.Context, m Message) error {
	path, err := q.inflightPath(m)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return q.handleErr("delete", m, err)
	}
	return nil
}

// ChangeVisibility moves the message's deadline to d from now, or back to
// ready/ when d is 0.
func (q *FileQueue) ChangeVisibility(ctx context.Context, m Message, d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("change visibility of %s: %v: want 0 to %v", m.ID, d, MaxVisibility)
	}
	path, err := q.inflightPath(m)
	if err != nil {
		return err
	}
	if d == 0 {
		id, n, _, _ := parseInflight(m.handle)
		err = os.Rename(path, q.path(readyDir, readyName(id, n)))
	} else {
		deadline := time.Now().Add(d)
		err = os.Chtimes(path, deadline, deadline)
	}
	if err != nil {
		return q.handleErr("change visibility of", m, err)
	}
	return nil
}

// DeadLetter moves an inflight message to dead/, with the reason beside it.
func (q *FileQueue) DeadLetter(ctx context.Context, m Message, reason string) error {
	path, err := q.inflightPath(m)
	if err != nil {
		return err
	}
	id, n, _, _ := parseInflight(m.handle)
	if err := q.bury(path, readyName(id, n), reason); err != nil {
		return q.handleErr("dead-letter", m, err)
	}
	return nil
}

// bury moves the message file at src to dead/name and writes the reason
// beside it. A crash between the two leaves a dead message without a reason,
// never a lost message.
func (q *FileQueue) bury(src, name, reason string) error {
	if err := os.Rename(src, q.path(deadDir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrStaleHandle
		}
		return fmt.Errorf("dead-letter %s in %s: %w", name, q, err)
	}
	q.opts.Logger.Warn("message dead-lettered", slog.String("queue", q.String()),
		slog.String("message", name), slog.String("reason", reason))
	line := time.Now().UTC().Format(time.RFC3339) + " " + reason + "\n"
	if err := atomicfile.WriteFile(q.path(deadDir, name+reasonExt), q.path(tmpDir), []byte(line)); err != nil {
		return fmt.Errorf("dead-letter %s in %s: reason: %w", name, q, err)
	}
	return nil
}

// Depth counts the ready messages.
func (q *FileQueue) Depth(ctx context.Context) (int, error) {
	d, err := os.Open(q.path(readyDir))
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", q, err)
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(1024)
		for _, name := range names {
			if _, _, ok := parseReady(name); ok {
				n++
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("depth of %s: %w", q, err)
		}
	}
}

// inflightPath is the file a message's handle names.
func (q *FileQueue) inflightPath(m Message) (string, error) {
	if _, _, _, ok := parseInflight(m.handle); !ok {
		return "", fmt.Errorf("message %q was not received from %s: %w", m.ID, q, ErrStaleHandle)
	}
	return q.path(inflightDir, m.handle), nil
}

// handleErr turns a missing inflight file into ErrStaleHandle.
func (q *FileQueue) handleErr(op string, m Message, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrStaleHandle) {
		return fmt.Errorf("%s %s in %s: %w", op, m.ID, q, ErrStaleHandle)
	}
	return fmt.Errorf("%s %s in %s: %w", op, m.ID, q, err)
}

func (q *FileQueue) path(elem ...string) string {
	return filepath.Join(append([]string{q.dir}, elem...)...)
}

// removeStaleTmp removes temporary files left by senders that crashed.
func (q *FileQueue) removeStaleTmp() {
	entries, err := os.ReadDir(q.path(tmpDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTmpAge {
			_ = os.Remove(q.path(tmpDir, e.Name()))
		}
	}
}

// writeTemp writes data to a new temporary file in dir and leaves it open.
func writeTemp(dir string, data []byte) (*os.File, error) {
	f, err := os.CreateTemp(dir, "w-*")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// syncDir flushes a directory's entries (the renames into it) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// newID is a message ID that sorts by send time: 20 digits of Unix
// nanoseconds, a dash and 16 random hex digits.
func newID(t time.Time) string {
	return fmt.Sprintf("%020d-%s", t.UnixNano(), newToken())
}

// newToken is 16 random hex digits.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// idTime is the send time recorded in an ID.
func idTime(id string) time.Time {
	ns, err := strconv.ParseInt(id[:20], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func readyName(id string, n int) string { return id + "." + strconv.Itoa(n) }

// validID reports whether s is an ID made by newID.
func validID(s string) bool {
	return len(s) == 37 && s[20] == '-' && allIn(s[:20], "0123456789") && allIn(s[21:], "0123456789abcdef")
}

// parseReady parses ID.N.
func parseReady(name string) (id string, n int, ok bool) {
	id, ns, found := strings.Cut(name, ".")
	if !found || !validID(id) {
		return "", 0, false
	}
	n, ok = parseCount(ns)
	return id, n, ok
}

// parseInflight parses ID.N.TOKEN.
func parseInflight(name string) (id string, n int, token string, ok bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 3 || !validID(parts[0]) || len(parts[2]) != 16 || !allIn(parts[2], "0123456789abcdef") {
		return "", 0, "", false
	}
	n, ok = parseCount(parts[1])
	return parts[0], n, parts[2], ok
}

// parseCount parses a receive count: decimal digits without a leading zero.
func parseCount(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && s != "0") || !allIn(s, "0123456789") {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func allIn(s, chars string) bool {
	return !slices.ContainsFunc([]byte(s), func(c byte) bool { return strings.IndexByte(chars, c) < 0 })
}
