package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// TestAnalyzeS3AndSQS runs s3thumb analyze against real servers: the access
// logs in a log bucket of versitygw (both key layouts, gzip), the state in
// another bucket, jobs on a fauxqs SQS queue, and cleanup in the photo
// bucket deleting only the tagged stale thumbnail.
func TestAnalyzeS3AndSQS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and fauxqs")
	}
	ctx := context.Background()
	gw, sq := analyzeServers(t)
	client := gw.Client()
	logs := store.NewS3(client, "logs", "")
	photos := store.NewS3(client, "photos", "")

	// Three days of generated logs, up to the start of today.
	var simple, partitioned int
	g := genLogs(t, 3, loggen.SinkFunc(func(ctx context.Context, key string, body []byte) error {
		if strings.Count(key, "/") > 1 {
			partitioned++
		} else {
			simple++
		}
		return logs.Put(ctx, key, body, store.PutOptions{})
	}))
	if simple == 0 || partitioned == 0 {
		t.Fatalf("%d simple and %d partitioned log keys: want both layouts", simple, partitioned)
	}

	// Cleanup's cases: reads 40 days ago, one of them read again yesterday.
	now := time.Now().UTC()
	old, recent := now.AddDate(0, 0, -40), now.Add(-20*time.Hour)
	tagged := store.PutOptions{Tags: map[string]string{thumbtag.Key: thumbtag.Value}}
	objects := []struct {
		key     string
		opts    store.PutOptions
		deleted bool
	}{
		{"photos/old_200x200.jpg", tagged, true},                   // stale, tagged: deleted
		{"photos/untagged_200x200.jpg", store.PutOptions{}, false}, // stale, not tagged: kept
		{"photos/old.jpg", tagged, false},                          // an original: never touched
		{"photos/kept_200x200.jpg", tagged, false},                 // read again yesterday
	}
	var oldLog, newLog []byte
	for i, o := range objects {
		if err := photos.Put(ctx, o.key, []byte("not really a picture"), o.opts); err != nil {
			t.Fatal(err)
		}
		oldLog = accesslog.AppendS3(oldLog, &accesslog.Record{Bucket: "photos", Time: old, RequestID: "OLD" + string(rune('A'+i)),
			Operation: accesslog.OpWebsiteGetObject, Key: o.key, HTTPStatus: 200, ObjectSize: 20, BytesSent: 20}, accesslog.S3FieldsLatest)
	}
	newLog = accesslog.AppendS3(newLog, &accesslog.Record{Bucket: "photos", Time: recent, RequestID: "NEWA",
		Operation: accesslog.OpWebsiteGetObject, Key: "photos/kept_200x200.jpg", HTTPStatus: 200, ObjectSize: 20, BytesSent: 20}, 24)
	for key, body := range map[string][]byte{
		accesslog.SimpleLogKey("logs/", old.Add(time.Hour), "CLEANUPOLD"):                                                        oldLog,
		accesslog.PartitionedLogKey("logs/", "123456789012", "us-east-1", "photos", recent, recent.Add(time.Hour), "CLEANUPNEW"): newLog,
	} {
		if err := logs.Put(ctx, key, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	out, err := sq.Client().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pregen")})
	if err != nil {
		t.Fatal(err)
	}
	qURL := aws.ToString(out.QueueUrl)
	args := []string{"--logs", "s3://logs/logs/", "--state", "s3://state/analyzer", "--store", "s3://photos",
		"--s3-endpoint", gw.Endpoint, "--s3-path-style", "--region", gw.Region,
		"--queue", qURL, "--sqs-endpoint", sq.Endpoint, "--delete-stale"}

	rep := analyzeJSON(t, args...)
	st := g.Stats()
	if rep.Run.LogObjects != st.Objects+2 || rep.Run.Lines != st.Lines+int64(len(objects))+1 {
		t.Errorf("read %d objects, %d lines; the bucket holds %d objects, %d lines", rep.Run.LogObjects, rep.Run.Lines, st.Objects+2, st.Lines+int64(len(objects))+1)
	}
	// Thumbnail requests in the window: the generator's and yesterday's read.
	if rep.Requests != st.Hits+st.Misses+1 {
		t.Errorf("%d thumbnail requests in the window, want %d", rep.Requests, st.Hits+st.Misses+1)
	}
	if rep.JobsQueued == 0 {
		t.Fatal("no jobs queued")
	}
	q, err := queue.Open(ctx, qURL, queue.Options{Endpoint: sq.Endpoint, Region: sq.Region})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q.Depth(ctx); err != nil || n != rep.JobsQueued {
		t.Errorf("SQS depth %d (%v), report says %d queued", n, err, rep.JobsQueued)
	}
	msgs, err := q.Receive(ctx, queue.MaxBatch, time.Second)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("receive: %d messages, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if j, err := queue.Decode(m.Body); err != nil || j.Reason == "" {
			t.Errorf("job %q: %v", m.Body, err)
		}
		if err := q.ChangeVisibility(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
	}

	outcomes := map[string]string{}
	for _, s := range rep.Stale {
		outcomes[s.Key] = s.Outcome
	}
	want := map[string]string{"photos/old_200x200.jpg": "deleted", "photos/untagged_200x200.jpg": "kept: not tagged thumbnail=yes"}
	if len(outcomes) != len(want) || outcomes["photos/old_200x200.jpg"] != want["photos/old_200x200.jpg"] ||
		outcomes["photos/untagged_200x200.jpg"] != want["photos/untagged_200x200.jpg"] {
		t.Errorf("stale: %v, want %v", outcomes, want)
	}
	if rep.Deleted != 1 || rep.BytesFreed != 20 {
		t.Errorf("deleted %d, freed %d bytes; want 1 and 20", rep.Deleted, rep.BytesFreed)
	}
	for _, o := range objects {
		_, err := photos.Head(ctx, o.key)
		if gone := err != nil; gone != o.deleted {
			t.Errorf("%s: head %v after cleanup, want deleted %v", o.key, err, o.deleted)
		}
	}

	// The state and the published classes are in the state bucket under its
	// prefix; the lock is gone.
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("state")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if want := []string{"analyzer/" + layout.AnalyzerCursor, "analyzer/" + layout.AnalyzerState, "analyzer/popular-classes.json"}; !slices.Equal(keys, want) {
		t.Errorf("state bucket holds %v, want only %v", keys, want)
	}

	// Right after, a run finds nothing new by the cursor and stops.
	if idle := analyzeJSON(t, args...); !idle.Unchanged || idle.Run.LogObjects != 0 {
		t.Errorf("a run with no new logs: unchanged %v, read %d objects; want unchanged, none read", idle.Unchanged, idle.Run.LogObjects)
	}

	// A second run that decides reads nothing new, queues nothing, deletes
	// nothing.
	again := analyzeJSON(t, append(slices.Clone(args), "--decide-every", "0")...)
	if again.Unchanged {
		t.Fatal("with --decide-every 0 the run did not decide")
	}
	if again.Run.LogObjects != 0 || again.JobsQueued != 0 || again.Deleted != 0 {
		t.Errorf("second run: read %d objects, queued %d, deleted %d; want none", again.Run.LogObjects, again.JobsQueued, again.Deleted)
	}
	if n, _ := q.Depth(ctx); n != rep.JobsQueued {
		t.Errorf("SQS depth %d after the second run, want %d", n, rep.JobsQueued)
	}
	for _, s := range again.Stale {
		if s.Key == "photos/old_200x200.jpg" {
			t.Errorf("deleted thumbnail listed again: %+v", s)
		}
	}
}

// TestAnalyzeShardsS3AndSQS runs three shards of s3thumb analyze against
// versitygw and fauxqs, over the same logs and one state bucket: together
// they queue exactly the jobs one analyzer queues, each keeps its state
// under its own prefix, and one set of popular classes is published.
func TestAnalyzeShardsS3AndSQS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and fauxqs")
	}
	ctx := context.Background()
	gw, sq := analyzeServers(t)
	client := gw.Client()
	logs := store.NewS3(client, "logs", "")
	genLogs(t, 3, loggen.SinkFunc(func(ctx context.Context, key string, body []byte) error {
		return logs.Put(ctx, key, body, store.PutOptions{})
	}))
	queueFor := func(name string) (string, queue.Queue) {
		out, err := sq.Client().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		// A message whose receipt was lost in flight comes back in 2s.
		q, err := queue.Open(ctx, aws.ToString(out.QueueUrl), queue.Options{Endpoint: sq.Endpoint, Region: sq.Region, VisibilityTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl), q
	}
	args := func(state, qURL string) []string {
		// The budget, the cap and the new-upload rate are each shard's own
		// (see the README): held off to compare.
		return []string{"--logs", "s3://logs/logs/", "--state", "s3://state/" + state, "--store", "s3://photos",
			"--s3-endpoint", gw.Endpoint, "--s3-path-style", "--region", gw.Region,
			"--queue", qURL, "--sqs-endpoint", sq.Endpoint, "--max-unread", "1", "--max-jobs", "1000000", "--new-within", "0"}
	}
	// receive takes n jobs off q (SQS may deliver one twice: a set).
	receive := func(q queue.Queue, n int) []string {
		seen := map[string]bool{}
		for got, empty := 0, 0; got < n && empty < 15; {
			msgs, err := q.Receive(ctx, queue.MaxBatch, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				empty++
			}
			for _, m := range msgs {
				j, err := queue.Decode(m.Body)
				if err != nil {
					t.Fatalf("job %q: %v", m.Body, err)
				}
				if !seen[j.Key] {
					got++
				}
				seen[j.Key] = true
				if err := q.Delete(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(seen) < n {
			depth, err := q.Depth(ctx)
			t.Logf("received %d of %d; depth %d (%v)", len(seen), n, depth, err)
		}
		return slices.Sorted(maps.Keys(seen))
	}
	oneURL, oneQ := queueFor("one")
	rep := analyzeJSON(t, args("one", oneURL)...)
	if rep.JobsQueued == 0 || rep.Shard != "" {
		t.Fatalf("one analyzer: %d jobs, shard %q", rep.JobsQueued, rep.Shard)
	}
	one := receive(oneQ, rep.JobsQueued)
	shardsURL, shardsQ := queueFor("shards")
	queued := 0
	var files []string
	for i := range 3 {
		code, out, errOut := analyzeRun(t, append(args("sharded", shardsURL), "--shard", strconv.Itoa(i), "--shards", "3", "--json")...)
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil {
			t.Fatalf("shard %d: exit %d, %v\n%s", i, code, err, errOut)
		}
		if want := strconv.Itoa(i) + "/3"; rep.Shard != want {
			t.Errorf("shard %d's report says %q, want %q", i, rep.Shard, want)
		}
		queued += rep.JobsQueued
		files = append(files, filepath.Join(t.TempDir(), "shard.json"))
		if err := os.WriteFile(files[i], []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The shards' reports, merged, are one analyzer's: the same requests,
	// hits and jobs, and no shard named.
	code, out, errOut := analyzeRun(t, append([]string{"--merge-report", "--json"}, files...)...)
	var merged report.Report
	if err := json.Unmarshal([]byte(out), &merged); code != exitOK || err != nil {
		t.Fatalf("--merge-report: exit %d, %v\n%s", code, err, errOut)
	}
	if merged.Shard != "" || merged.JobsQueued != rep.JobsQueued || merged.Requests != rep.Requests || merged.Hits != rep.Hits ||
		merged.Stored != rep.Stored || len(merged.Days) != len(rep.Days) {
		t.Errorf("merged report: shard %q, %d jobs, %d requests, %d hits, %d stored, %d days; one analyzer: %d, %d, %d, %d, %d",
			merged.Shard, merged.JobsQueued, merged.Requests, merged.Hits, merged.Stored, len(merged.Days),
			rep.JobsQueued, rep.Requests, rep.Hits, rep.Stored, len(rep.Days))
	}
	if code, _, errOut := analyzeRun(t, "--merge-report", files[0], files[0]); code != exitUsage || !strings.Contains(errOut, "twice") {
		t.Errorf("merging a shard with itself: exit %d, %s; want usage, saying so", code, errOut)
	}
	shards := receive(shardsQ, queued)
	if len(one) != rep.JobsQueued || !slices.Equal(one, shards) {
		t.Errorf("three shards queued %d jobs (%d received), one analyzer %d (%d received): not the same", queued, len(shards), rep.JobsQueued, len(one))
		for _, k := range one {
			if !slices.Contains(shards, k) {
				t.Errorf("only one analyzer queued %s", k)
			}
		}
		for _, k := range shards {
			if !slices.Contains(one, k) {
				t.Errorf("only the shards queued %s", k)
			}
		}
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("state"), Prefix: aws.String("sharded/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	want := []string{"sharded/popular-classes.json"}
	for i := range 3 {
		want = append(want, fmt.Sprintf("sharded/shard-%d-of-3/%s", i, layout.AnalyzerCursor), fmt.Sprintf("sharded/shard-%d-of-3/%s", i, layout.AnalyzerState))
	}
	if !slices.Equal(keys, want) {
		t.Errorf("the state bucket holds %q, want %q", keys, want)
	}
}

// analyzeServers starts versitygw, with buckets for the logs, the state and
// the photos, and fauxqs, and points the AWS credential chain at versitygw.
func analyzeServers(t *testing.T) (*testserver.S3, *testserver.SQS) {
	t.Helper()
	gw := testserver.VersityGW(t)
	sq := testserver.Fauxqs(t)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, b := range []string{"logs", "state", "photos"} {
		gw.CreateBucket(t, b)
	}
	return gw, sq
}
