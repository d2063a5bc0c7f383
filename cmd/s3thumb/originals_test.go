package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
	"github.com/s3thumb/s3thumb/worker"
)

// TestAnalyzeLeavesOriginalsNamedLikeThumbnails is the data-loss scenario:
// banner_1200x630.jpg is an original (uploaded, untagged; there is no
// banner.jpg), read often through the website, and the lifecycle rule is a
// day, so a refresh looks due. The analyzer, run as the command, and real
// workers making what it queued must leave it byte for byte as uploaded
// and untagged, on a directory store and on versitygw; no job may name it
// or a size of its missing "original" banner.jpg, and its size class must
// not be made for other originals. The real thumbnail beside it is
// refreshed; a stale cleanup after that, and a backfill once banner.jpg
// exists too, keep the original as well.
func TestAnalyzeLeavesOriginalsNamedLikeThumbnails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	gw := testserver.VersityGW(t)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	gw.CreateBucket(t, "site")

	for _, kind := range []string{"file", "versitygw"} {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			d := newLocalDirs(t)
			var st store.Store = mustFileStore(t, d.store)
			storeArgs := []string{"--store", "file://" + d.store}
			if kind == "versitygw" {
				st = store.NewS3(gw.Client(), "site", "")
				storeArgs = []string{"--store", "s3://site", "--s3-endpoint", gw.Endpoint, "--s3-path-style", "--region", gw.Region}
			}
			const banner, earth, thumb = "social/banner_1200x630.jpg", "photos/earth.jpg", "photos/earth_200x200.jpg"
			writeOriginal(t, st, banner)
			writeOriginal(t, st, earth)
			uploaded := readAll(t, st, banner)
			before, err := st.Head(ctx, banner)
			if err != nil {
				t.Fatal(err)
			}
			maker := newTestMaker(t, st)
			if res, err := maker.Ensure(ctx, mustParse(t, thumb)); err != nil || !res.Stored {
				t.Fatalf("make %s: %+v, %v", thumb, res, err)
			}

			// Eight website reads of each over the last six days, as the
			// front or S3 logs them: no writes.
			now := time.Now().UTC()
			var log []byte
			for i := range 8 {
				at := now.Add(-time.Duration(i+2) * 16 * time.Hour)
				for _, key := range []string{banner, thumb} {
					log = accesslog.AppendS3(log, &accesslog.Record{Bucket: "site", Time: at, RequestID: key + string(rune('A'+i)),
						Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: 200, ObjectSize: 900, BytesSent: 900,
						RemoteIP: "192.0.2." + strconv.Itoa(1+i%5), UserAgent: "Mozilla/5.0"}, accesslog.S3FieldsLatest)
				}
			}
			if err := os.WriteFile(filepath.Join(d.logs, filepath.Base(accesslog.SimpleLogKey("", now.Add(-time.Hour), "BANNER"))), log, 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--logs", "file://" + d.logs, "--state", "file://" + d.state, "--queue", "file://" + d.queue,
				"--expire-days", "1", "--max-jobs", "100"}, storeArgs...)
			rep := analyzeJSON(t, args...)
			var jobs []string
			for _, j := range rep.Jobs {
				prefix := ""
				if j.Refresh {
					prefix = "refresh "
				}
				jobs = append(jobs, prefix+j.Key)
			}
			if want := []string{"refresh " + thumb}; !slices.Equal(jobs, want) {
				t.Errorf("jobs %q, want %q: nothing of the original, its missing banner.jpg or its size class", jobs, want)
			}
			if rep.Originals != 1 || rep.MissingOriginals != 1 {
				t.Errorf("report: %d originals named like thumbnails, %d missing originals; want 1 and 1", rep.Originals, rep.MissingOriginals)
			}
			for _, c := range rep.Classes {
				if strings.Contains(c.Class, "1200x630") {
					t.Errorf("size class %+v: an original's name made a class", c)
				}
			}

			// Real workers make what was queued.
			runQueue(t, d.queue, maker)
			if tags, err := st.Tags(ctx, thumb); err != nil || !thumbtag.Is(tags) {
				t.Errorf("%s after its refresh: tags %v, %v", thumb, tags, err)
			}

			// A cleanup that finds everything stale keeps the original.
			rep = analyzeJSON(t, append(args, "--stale-after", "24h", "--delete-stale", "--expire-days", "0")...)
			for _, s := range rep.Stale {
				if s.Key == banner {
					t.Errorf("the original is listed stale: %+v", s)
				}
			}

			// A backfill once banner.jpg exists too: its 1200x630 thumbnail
			// would be the original's key, which is left as it is.
			writeOriginal(t, st, "social/banner.jpg")
			if code, _, errOut := enqueueRun(ctx, nil, append([]string{"--log-level", "warn", "enqueue", "--queue", "file://" + d.queue, "--sizes", "1200x630,200x200"}, storeArgs...)...); code != exitOK {
				t.Fatalf("enqueue: exit %d\n%s", code, errOut)
			}
			runQueue(t, d.queue, maker)
			if tags, err := st.Tags(ctx, "social/banner_200x200.jpg"); err != nil || !thumbtag.Is(tags) {
				t.Errorf("the backfill did not make banner.jpg's thumbnail: tags %v, %v", tags, err)
			}

			after, err := st.Head(ctx, banner)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, st, banner); !bytes.Equal(got, uploaded) || after.ETag != before.ETag || !after.LastModified.Equal(before.LastModified) {
				t.Errorf("%s was rewritten: %+v, before %+v", banner, after, before)
			}
			if tags, err := st.Tags(ctx, banner); err != nil || len(tags) != 0 {
				t.Errorf("%s: tags %v, %v; want none", banner, tags, err)
			}
		})
	}
}

func readAll(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	obj, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestMaker(t *testing.T, st store.Store) *thumbnail.Maker {
	t.Helper()
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	maker, err := thumbnail.NewMaker(st, vips, nil, thumbnail.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return maker
}

// runQueue runs real workers on the file queue in dir until it is empty.
func runQueue(t *testing.T, dir string, maker worker.Maker) {
	t.Helper()
	q, err := queue.OpenFile(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wcfg := worker.DefaultConfig()
	wcfg.Concurrency, wcfg.Wait, wcfg.DepthInterval = 2, 100*time.Millisecond, 0
	w, err := worker.New(wcfg, q, maker, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := q.Depth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
}

func mustParse(t *testing.T, key string) thumbkey.Key {
	t.Helper()
	k, err := thumbkey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
