package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// harness makes fresh, empty queues of one implementation for the
// conformance suite.
type harness struct {
	// open makes a queue whose messages stay hidden for vt after a receive
	// and are dead-lettered after maxReceives receives. dead returns the
	// bodies that have reached its dead-letter place so far.
	open func(t *testing.T, vt time.Duration, maxReceives int) (q Queue, dead func() []string)
	// tick is the visibility granularity: SQS counts whole seconds.
	tick time.Duration
}

// testConformance runs the behaviour every Queue must share.
func testConformance(t *testing.T, h harness) {
	t.Run("SendReceiveDelete", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, h.tick, 5)
		before := time.Now()
		mustSend(t, q, "hello")
		m := receiveOne(t, q, 5*time.Second)
		if string(m.Body) != "hello" || m.ReceiveCount != 1 || m.ID == "" {
			t.Fatalf("received %+v, want body hello, receive count 1 and an ID", m)
		}
		if m.SentAt.Before(before.Add(-2*time.Second)) || m.SentAt.After(time.Now().Add(2*time.Second)) {
			t.Errorf("SentAt %v, want about %v", m.SentAt, before)
		}
		if err := q.Delete(ctx, m); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		// Deleted for good: not even redelivered after the timeout.
		if got := receiveAll(t, q, 2*h.tick+500*time.Millisecond); len(got) > 0 {
			t.Fatalf("after Delete, received %+v", got)
		}
	})

	t.Run("RedeliveryAfterVisibilityTimeout", func(t *testing.T) {
		t.Parallel()
		q, _ := h.open(t, h.tick, 5)
		mustSend(t, q, "again")
		first := receiveOne(t, q, 5*time.Second)
		if got := receiveAll(t, q, 0); len(got) > 0 {
			t.Fatalf("while hidden, received %+v", got)
		}
		for want := 2; want <= 3; want++ {
			m := receiveOne(t, q, 3*h.tick+2*time.Second)
			if m.ID != first.ID || string(m.Body) != "again" || m.ReceiveCount != want {
				t.Fatalf("redelivery: got %+v, want ID %s with receive count %d", m, first.ID, want)
			}
		}
	})

	t.Run("ChangeVisibilityZero", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, time.Minute, 5)
		mustSend(t, q, "now")
		m := receiveOne(t, q, 5*time.Second)
		if err := q.ChangeVisibility(ctx, m, 0); err != nil {
			t.Fatalf("ChangeVisibility(0): %v", err)
		}
		again := receiveOne(t, q, 2*time.Second) // far less than the minute
		if again.ID != m.ID || again.ReceiveCount != 2 {
			t.Fatalf("after ChangeVisibility(0) got %+v, want %s again, receive count 2", again, m.ID)
		}
	})

	t.Run("ChangeVisibilityExtends", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, h.tick, 5)
		mustSend(t, q, "later")
		m := receiveOne(t, q, 5*time.Second)
		if err := q.ChangeVisibility(ctx, m, 4*h.tick); err != nil {
			t.Fatalf("ChangeVisibility: %v", err)
		}
		if got := receiveAll(t, q, 2*h.tick); len(got) > 0 {
			t.Fatalf("extended message came back after the original timeout: %+v", got)
		}
		again := receiveOne(t, q, 4*h.tick+2*time.Second)
		if again.ID != m.ID || again.ReceiveCount != 2 {
			t.Fatalf("after the extension got %+v, want %s again", again, m.ID)
		}
	})

	t.Run("Batch25", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, time.Minute, 5)
		var want []string
		for i := range 25 {
			want = append(want, fmt.Sprintf("message %02d", i))
		}
		mustSend(t, q, want...)
		if n, err := q.Depth(ctx); err != nil || n != 25 {
			t.Errorf("Depth = %d, %v; want 25", n, err)
		}
		var got []string
		for deadline := time.Now().Add(10 * time.Second); len(got) < 25 && time.Now().Before(deadline); {
			msgs, err := q.Receive(ctx, 50, time.Second)
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if len(msgs) > MaxBatch {
				t.Fatalf("Receive returned %d messages, more than %d", len(msgs), MaxBatch)
			}
			for _, m := range msgs {
				got = append(got, string(m.Body))
				if err := q.Delete(ctx, m); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("received %q, want %q", got, want)
		}
		if n, err := q.Depth(ctx); err != nil || n != 0 {
			t.Errorf("Depth after deleting all = %d, %v; want 0", n, err)
		}
	})

	t.Run("SendRefusesBadBodies", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, time.Minute, 5)
		bodies := [][]byte{[]byte("ok 1"), nil, []byte("ok 2"), make([]byte, MaxBodyBytes+1), []byte("nul\x00"), []byte("bad\xffutf8")}
		err := q.Send(ctx, bodies)
		var se *SendError
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalidBody) {
			t.Fatalf("Send = %v, want a *SendError wrapping ErrInvalidBody", err)
		}
		if want := []int{1, 3, 4, 5}; se.Total != len(bodies) || !slices.Equal(se.Failed, want) {
			t.Errorf("SendError total %d failed %v, want %d and %v", se.Total, se.Failed, len(bodies), want)
		}
		if !strings.Contains(err.Error(), "4 of 6 messages failed") {
			t.Errorf("error %q does not say how many failed", err)
		}
		var got []string
		for _, m := range receiveAll(t, q, 2*time.Second) {
			got = append(got, string(m.Body))
		}
		slices.Sort(got)
		if want := []string{"ok 1", "ok 2"}; !slices.Equal(got, want) {
			t.Errorf("received %q, want %q", got, want)
		}
	})

	t.Run("DeadLetterAfterMaxReceives", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, dead := h.open(t, time.Minute, 2)
		mustSend(t, q, "poison")
		for want := 1; want <= 2; want++ {
			m := receiveOne(t, q, 5*time.Second)
			if m.ReceiveCount != want {
				t.Fatalf("receive %d: count %d", want, m.ReceiveCount)
			}
			if err := q.ChangeVisibility(ctx, m, 0); err != nil { // fail at once
				t.Fatalf("ChangeVisibility(0): %v", err)
			}
		}
		if got := receiveAll(t, q, 2*time.Second); len(got) > 0 {
			t.Fatalf("after 2 receives of 2 allowed, received %+v", got)
		}
		if got := dead(); !slices.Equal(got, []string{"poison"}) {
			t.Fatalf("dead letters %q, want [poison]", got)
		}
	})

	t.Run("DeadLetter", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, dead := h.open(t, time.Minute, 5)
		mustSend(t, q, "not a job", "a job")
		for range 2 {
			m := receiveOne(t, q, 5*time.Second)
			var err error
			if string(m.Body) == "not a job" {
				err = q.DeadLetter(ctx, m, "malformed job: invalid character 'o'")
			} else {
				err = q.Delete(ctx, m)
			}
			if err != nil {
				t.Fatalf("settle %q: %v", m.Body, err)
			}
		}
		if got := dead(); !slices.Equal(got, []string{"not a job"}) {
			t.Fatalf("dead letters %q, want [not a job]", got)
		}
		if got := receiveAll(t, q, 0); len(got) > 0 {
			t.Fatalf("dead-lettered message still in the queue: %+v", got)
		}
	})

	t.Run("NotReceivedMessage", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q, _ := h.open(t, time.Minute, 5)
		var m Message
		for name, err := range map[string]error{
			"Delete":           q.Delete(ctx, m),
			"ChangeVisibility": q.ChangeVisibility(ctx, m, time.Second),
			"DeadLetter":       q.DeadLetter(ctx, m, "x"),
		} {
			if !errors.Is(err, ErrStaleHandle) {
				t.Errorf("%s of a message never received = %v, want ErrStaleHandle", name, err)
			}
		}
	})

	t.Run("LongPollReturnsOnArrival", func(t *testing.T) {
		t.Parallel()
		q, _ := h.open(t, time.Minute, 5)
		type result struct {
			msgs []Message
			err  error
			at   time.Time
		}
		done := make(chan result, 1)
		go func() {
			msgs, err := q.Receive(context.Background(), 10, 15*time.Second)
			done <- result{msgs, err, time.Now()}
		}()
		time.Sleep(500 * time.Millisecond)
		select {
		case r := <-done:
			t.Fatalf("Receive returned before anything was sent: %+v", r)
		default:
		}
		sent := time.Now()
		mustSend(t, q, "wake up")
		r := <-done
		if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0].Body) != "wake up" {
			t.Fatalf("Receive = %+v, %v", r.msgs, r.err)
		}
		if lag := r.at.Sub(sent); lag > 3*time.Second {
			t.Errorf("long poll returned %v after the send, want at once", lag)
		}
	})

	t.Run("ReceiveStopsWithContext", func(t *testing.T) {
		t.Parallel()
		q, _ := h.open(t, time.Minute, 5)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		msgs, err := q.Receive(ctx, 1, 15*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) || len(msgs) > 0 {
			t.Fatalf("Receive = %+v, %v; want context.DeadlineExceeded", msgs, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Receive took %v after its context ended", took)
		}
	})
}

// mustSend sends the bodies or fails the test.
func mustSend(t *testing.T, q Queue, bodies ...string) {
	t.Helper()
	bs := make([][]byte, len(bodies))
	for i, b := range bodies {
		bs[i] = []byte(b)
	}
	if err := q.Send(context.Background(), bs); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// receiveOne receives exactly one message within wait.
func receiveOne(t *testing.T, q Queue, wait time.Duration) Message {
	t.Helper()
	msgs, err := q.Receive(context.Background(), 1, wait)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("Receive(max 1, wait %v) = %d messages, want 1", wait, len(msgs))
	}
	return msgs[0]
}

// receiveAll receives until a Receive waiting wait returns nothing.
func receiveAll(t *testing.T, q Queue, wait time.Duration) []Message {
	t.Helper()
	var all []Message
	for {
		msgs, err := q.Receive(context.Background(), MaxBatch, wait)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if len(msgs) == 0 {
			return all
		}
		all = append(all, msgs...)
	}
}
