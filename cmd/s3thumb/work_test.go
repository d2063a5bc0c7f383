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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// workerProc is an `s3thumb work` process with its metrics endpoint.
type workerProc struct {
	cmd     *exec.Cmd
	metrics string // http://ADDR
	mu      sync.Mutex
	log     bytes.Buffer
	exited  chan error
}

// startWorkerProc starts bin with the global flags for JSON logs, then
// args, and waits for its metrics endpoint.
func startWorkerProc(t *testing.T, bin string, args ...string) *workerProc {
	t.Helper()
	p := &workerProc{exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"--log-format", "json"}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("log of worker %d:\n%s", p.cmd.Process.Pid, p.logText())
		}
	})
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			p.mu.Lock()
			p.log.Write(lines.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
			if m := regexp.MustCompile(`"msg":"serving","addr":"(http://[^"]+)"`).FindStringSubmatch(lines.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	select {
	case p.metrics = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker never served its metrics; it said:\n%s", p.logText())
	}
	return p
}

func (p *workerProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// jobs scrapes the worker's job counts by outcome.
func (p *workerProc) jobs(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get(p.metrics + "/metrics")
	if err != nil {
		t.Fatalf("scrape worker: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^s3thumb_worker_jobs_total\{outcome="(\w+)",reason="\w+"\} (\d+)$`).FindAllSubmatch(body, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		counts[string(m[1])] += n
	}
	return counts
}

// terminate sends SIGTERM and wants exit status 0 within 20s.
func (p *workerProc) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		if err != nil {
			t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("worker did not exit within 20s of SIGTERM")
	}
}

// sampleJPEG is a small real JPEG, made with the analyzer tests' helper.
func sampleJPEG(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	writeOriginal(t, mustFileStore(t, dir), "sample.jpg")
	b, err := os.ReadFile(filepath.Join(dir, "sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putOriginals writes n copies of jpeg as DIR/imgNNNN.jpg, 8 at a time.
func putOriginals(t *testing.T, st store.Store, dir string, n int, jpeg []byte) []string {
	t.Helper()
	keys := make([]string, n)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		keys[i] = fmt.Sprintf("%simg%04d.jpg", dir, i)
		g.Go(func() error {
			return st.Put(context.Background(), keys[i], jpeg, store.PutOptions{ContentType: "image/jpeg"})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkThumbnails wants every key stored with the thumbnail tag, and no
// other thumbnail under prefix.
func checkThumbnails(t *testing.T, st store.Store, prefix string, want []string) {
	t.Helper()
	ctx := context.Background()
	var got []string
	err := st.List(ctx, prefix, "", func(a store.Attrs) error {
		if _, err := thumbkey.Parse(a.Key); err == nil {
			got = append(got, a.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("%d thumbnails stored, want %d", len(got), len(want))
	}
	var g errgroup.Group
	g.SetLimit(8)
	for _, key := range want {
		g.Go(func() error {
			tags, err := st.Tags(ctx, key)
			if err != nil || tags["thumbnail"] != "yes" {
				return fmt.Errorf("%s: tags %v, %v; want thumbnail=yes", key, tags, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Error(err)
	}
}

// TestWorkProcesses runs the s3thumb binary as worker processes.
func TestWorkProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	jpeg := sampleJPEG(t)

	// Two workers compete for one file queue: every job is done, by one
	// of them, once (a job run twice would be counted as skipped).
	t.Run("FileQueueCompeting", func(t *testing.T) {
		dir, qdir := t.TempDir(), filepath.Join(t.TempDir(), "queue")
		st := mustFileStore(t, dir)
		originals := putOriginals(t, st, "", 200, jpeg)
		args := []string{"work", "--store", "file://" + dir, "--queue", "file://" + qdir, "--concurrency", "2",
			"--visibility-timeout", "2s", "--metrics-listen", "127.0.0.1:0"}
		a := startWorkerProc(t, bin, args...)
		b := startWorkerProc(t, bin, args...)

		code, out, errOut := enqueueRun(context.Background(), nil, "enqueue", "--store", "file://"+dir, "--queue", "file://"+qdir, "--sizes", "40x40")
		if code != exitOK || !strings.Contains(out, "queued                 200") {
			t.Fatalf("enqueue: exit %d\n%s\n%s", code, out, errOut)
		}
		testkit.WaitFor(t, 90*time.Second, "200 jobs", func() bool { return sum(a.jobs(t))+sum(b.jobs(t)) >= 200 })
		ja, jb := a.jobs(t), b.jobs(t)
		a.terminate(t)
		b.terminate(t)
		if ja["done"]+jb["done"] != 200 || sum(ja)+sum(jb) != 200 {
			t.Errorf("jobs %v and %v: want 200 done between them, and nothing else", ja, jb)
		}
		if ja["done"] == 0 || jb["done"] == 0 {
			t.Errorf("jobs %v and %v: want both workers to have done some", ja, jb)
		}
		for _, sub := range []string{"ready", "inflight", "dead"} {
			if entries, _ := os.ReadDir(filepath.Join(qdir, sub)); len(entries) > 0 {
				t.Errorf("%d messages left in %s/", len(entries), sub)
			}
		}
		var want []string
		for _, o := range originals {
			want = append(want, strings.TrimSuffix(o, ".jpg")+"_40x40.jpg")
		}
		checkThumbnails(t, st, "", want)
	})

	// A backfill of 1,000 originals × 2 sizes on versitygw and fauxqs;
	// the first worker is killed with SIGKILL in the middle, a second one
	// finishes: every job completes, none is lost, none is done twice
	// beyond those the killed worker had in hand.
	t.Run("BackfillKill9", func(t *testing.T) {
		s3srv := testserver.VersityGW(t)
		sqsSrv := testserver.Fauxqs(t)
		awsEnv(t, s3srv.AccessKey, s3srv.SecretKey)
		s3srv.CreateBucket(t, "images")
		queueURL, dlqURL := sqsSrv.CreateQueue(t, "thumbs", 30*time.Second, 5)
		st := store.NewS3(s3srv.Client(), "images", "")
		start := time.Now()
		originals := putOriginals(t, st, "photos/", 1000, jpeg)
		t.Logf("1000 originals stored in %v", time.Since(start))

		common := []string{"--store", "s3://images", "--s3-endpoint", s3srv.Endpoint, "--s3-path-style",
			"--queue", "sqs://thumbs", "--sqs-endpoint", sqsSrv.Endpoint}
		start = time.Now()
		code, out, errOut := enqueueRun(context.Background(), nil, append([]string{"enqueue", "--prefix", "photos/", "--sizes", "200x200,100x_fit"}, common...)...)
		if code != exitOK || !strings.Contains(out, "queued                 2000") {
			t.Fatalf("enqueue: exit %d\n%s\n%s", code, out, errOut)
		}
		t.Logf("2000 jobs queued in %v", time.Since(start))

		work := append([]string{"work", "--concurrency", "4", "--visibility-timeout", "3s", "--metrics-listen", "127.0.0.1:0"}, common...)
		start = time.Now()
		a := startWorkerProc(t, bin, work...)
		testkit.WaitFor(t, 120*time.Second, "the first worker to make 300 thumbnails", func() bool { return a.jobs(t)["done"] >= 300 })
		if err := a.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-a.exited
		a.exited <- nil
		left := sqsSrv.Len(t, queueURL)
		t.Logf("first worker killed after %v; %d jobs left", time.Since(start), left)
		if left <= 0 || left >= 2000 {
			t.Fatalf("%d jobs left after 300 made: want some, not all", left)
		}

		b := startWorkerProc(t, bin, work...)
		testkit.WaitFor(t, 180*time.Second, "the second worker to finish", func() bool {
			return sqsSrv.Len(t, queueURL) == 0 && sum(b.jobs(t)) >= left
		})
		jb := b.jobs(t)
		b.terminate(t)
		t.Logf("second worker: %v in %v", jb, time.Since(start))
		if sum(jb) != left || jb["done"]+jb["skipped"] != left {
			t.Errorf("second worker: %v; want the %d jobs left, each done or skipped once", jb, left)
		}
		// Only the jobs the killed worker had in hand (at most its
		// concurrency) may have been made already.
		if jb["skipped"] > 4 {
			t.Errorf("second worker skipped %d jobs, more than the 4 the killed worker could have had in hand", jb["skipped"])
		}
		if n := sqsSrv.Len(t, dlqURL); n != 0 {
			t.Errorf("%d jobs in the dead-letter queue, want 0", n)
		}
		var want []string
		for _, o := range originals {
			base := strings.TrimSuffix(o, ".jpg")
			want = append(want, base+"_200x200.jpg", base+"_100x_fit.jpg")
		}
		checkThumbnails(t, st, "photos/", want)
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestServeRunsWorkers: with a file store, enqueue queues to DIR/.queue
// by default, and serve runs a worker on it by default.
func TestServeRunsWorkers(t *testing.T) {
	dir := t.TempDir()
	writeOriginal(t, mustFileStore(t, dir), "a.jpg")
	// One app at a time: urfave/cli's help flags are shared globals.
	code, out, errOut := enqueueRun(context.Background(), nil, "enqueue", "--store", "file://"+dir, "--sizes", "30x30")
	if code != exitOK || !strings.Contains(out, "queued                 1") {
		t.Fatalf("enqueue: exit %d\n%s\n%s", code, out, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		code, _, errOut := enqueueRun(ctx, nil, "serve", "--store", "file://"+dir, "--listen", "127.0.0.1:0", "--access-log", "off")
		if code != exitOK {
			t.Errorf("serve: exit %d\n%s", code, errOut)
		}
		done <- code
	}()
	testkit.WaitFor(t, 30*time.Second, "the worker in serve to make a_30x30.jpg", func() bool {
		_, err := os.Stat(filepath.Join(dir, "a_30x30.jpg"))
		return err == nil
	})
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
	}
}
