package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// TestSQSQueue runs the conformance suite and the SQS-only tests against
// one fauxqs server.
func TestSQSQueue(t *testing.T) {
	// Open reads the standard AWS configuration chain: give it one that
	// reads nothing from this machine. (Setenv rules out t.Parallel here;
	// the subtests still run in parallel.)
	noFile := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "s3thumb-test", "AWS_SECRET_ACCESS_KEY": "s3thumb-test", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": testserver.Region, "AWS_PROFILE": "", "AWS_CONFIG_FILE": noFile, "AWS_SHARED_CREDENTIALS_FILE": noFile,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SQS": "",
	} {
		t.Setenv(k, v)
	}
	srv := testserver.Fauxqs(t)
	client := srv.Client()

	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		queueURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Minute, 0)
		name := queueURL[strings.LastIndexByte(queueURL, '/')+1:]

		byName, err := Open(ctx, "sqs://"+name, Options{Endpoint: srv.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		if byName.String() != queueURL {
			t.Errorf("sqs://%s opened %s, want %s", name, byName, queueURL)
		}
		// A queue URL is used as is. (fauxqs names its queues
		// http://sqs.REGION.localhost:PORT/..., which may not resolve, so
		// the endpoint is given.)
		byURL, err := Open(ctx, queueURL, Options{Endpoint: srv.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, byName, "by name")
		mustSend(t, byURL, "by URL")
		var got []string
		for _, m := range receiveAll(t, byURL, time.Second) {
			got = append(got, string(m.Body))
		}
		slices.Sort(got)
		if want := []string{"by URL", "by name"}; !slices.Equal(got, want) {
			t.Errorf("received %q, want %q", got, want)
		}

		_, err = Open(ctx, "sqs://nosuchqueue", Options{Endpoint: srv.Endpoint})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) {
			t.Errorf("Open of a missing queue = %v, want QueueDoesNotExist", err)
		}
	})

	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		testConformance(t, harness{tick: time.Second, open: func(t *testing.T, vt time.Duration, maxReceives int) (Queue, func() []string) {
			queueURL, dlqURL := srv.CreateQueue(t, "q-"+newToken(), vt, maxReceives)
			// No DeadLetterURL: the queue finds its dead-letter queue in
			// its redrive policy.
			q, err := NewSQS(context.Background(), client, queueURL, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if q.dlqURL != dlqURL {
				t.Fatalf("dead-letter queue %q, want %q from the redrive policy", q.dlqURL, dlqURL)
			}
			return q, func() []string {
				dlq, err := NewSQS(context.Background(), client, dlqURL, Options{})
				if err != nil {
					t.Fatal(err)
				}
				var bodies []string
				for _, m := range receiveAll(t, dlq, time.Second) {
					bodies = append(bodies, string(m.Body))
				}
				slices.Sort(bodies)
				return bodies
			}
		}})
	})

	t.Run("DeadLetterReason", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		queueURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Minute, 0)
		otherURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Minute, 0)
		q, err := NewSQS(ctx, client, queueURL, Options{DeadLetterURL: otherURL})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, q, "poison")
		m := receiveOne(t, q, 5*time.Second)
		if err := q.DeadLetter(ctx, m, "malformed job: no version"); err != nil {
			t.Fatal(err)
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(otherURL), WaitTimeSeconds: 2, MessageAttributeNames: []string{"All"},
		})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("dead-letter queue: %+v, %v", out, err)
		}
		got := out.Messages[0]
		if aws.ToString(got.Body) != "poison" || aws.ToString(got.MessageAttributes[reasonAttribute].StringValue) != "malformed job: no version" {
			t.Errorf("dead letter %q with attributes %+v", aws.ToString(got.Body), got.MessageAttributes)
		}
	})

	t.Run("DeadLetterWithoutDeadLetterQueueDeletes", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		queueURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Second, 0)
		q, err := NewSQS(ctx, client, queueURL, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, q, "poison")
		if err := q.DeadLetter(ctx, receiveOne(t, q, 5*time.Second), "permanent"); err != nil {
			t.Fatal(err)
		}
		if got := receiveAll(t, q, 2*time.Second); len(got) > 0 {
			t.Fatalf("dead-lettered message came back: %+v", got)
		}
	})

	t.Run("VisibilityTimeoutOption", func(t *testing.T) {
		t.Parallel()
		queueURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Hour, 0)
		q, err := NewSQS(context.Background(), client, queueURL, Options{VisibilityTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, q, "soon")
		first := receiveOne(t, q, 5*time.Second)
		again := receiveOne(t, q, 5*time.Second) // the queue's hour does not apply
		if again.ID != first.ID || again.ReceiveCount != 2 {
			t.Fatalf("got %+v, want %s again", again, first.ID)
		}
	})

	t.Run("MissingQueue", func(t *testing.T) {
		t.Parallel()
		_, err := NewSQS(context.Background(), client, srv.Endpoint+"/000000000000/nosuchqueue", Options{})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) {
			t.Fatalf("NewSQS of a missing queue = %v, want QueueDoesNotExist", err)
		}
	})

	t.Run("SendRetriesRefusedEntries", func(t *testing.T) {
		t.Parallel()
		testSendRetries(t, srv)
	})
}

// refuser is a proxy in front of a real SQS server that makes
// SendMessageBatch refuse chosen entries, as SQS may under load: the rest of
// each batch goes to the server, and the refused ones come back in Failed.
type refuser struct {
	target *url.URL
	// refuse says whether to refuse an entry (by body) on its nth attempt,
	// and whether the refusal is the sender's fault.
	refuse func(body string, attempt int) (refused, senderFault bool)

	mu       sync.Mutex
	attempts map[string]int // by body
}

func (r *refuser) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, MessageBody string }
	}
	var refused []types.BatchResultErrorEntry
	if req.Header.Get("X-Amz-Target") == "AmazonSQS.SendMessageBatch" {
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		kept := in.Entries[:0]
		r.mu.Lock()
		for _, e := range in.Entries {
			r.attempts[e.MessageBody]++
			if no, sender := r.refuse(e.MessageBody, r.attempts[e.MessageBody]); no {
				refused = append(refused, types.BatchResultErrorEntry{
					Id: aws.String(e.Id), Code: aws.String("InternalError"), Message: aws.String("refused by the test proxy"), SenderFault: sender,
				})
				continue
			}
			kept = append(kept, e)
		}
		r.mu.Unlock()
		if len(kept) == 0 { // SQS refuses an empty batch: answer for it
			r.reply(w, http.StatusOK, "application/x-amz-json-1.0", map[string]any{"Successful": []any{}}, refused)
			return
		}
		in.Entries = kept
		if body, err = json.Marshal(in); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.target.JoinPath(req.URL.Path).String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if len(refused) == 0 || resp.StatusCode != http.StatusOK {
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(respBody)
		return
	}
	var result map[string]any
	if err := json.Unmarshal(respBody, &result); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	r.reply(w, resp.StatusCode, resp.Header.Get("Content-Type"), result, refused)
}

// reply writes a SendMessageBatch result with the refused entries added to
// its Failed list.
func (r *refuser) reply(w http.ResponseWriter, status int, contentType string, result map[string]any, refused []types.BatchResultErrorEntry) {
	failed, _ := result["Failed"].([]any)
	for _, f := range refused {
		failed = append(failed, map[string]any{"Id": *f.Id, "Code": *f.Code, "Message": *f.Message, "SenderFault": f.SenderFault})
	}
	result["Failed"] = failed
	body, err := json.Marshal(result)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func testSendRetries(t *testing.T, srv *testserver.SQS) {
	ctx := context.Background()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	r := &refuser{target: target, attempts: map[string]int{}, refuse: func(body string, attempt int) (bool, bool) {
		switch {
		case body == "m07" || body == "m19":
			return true, true // the sender's fault: never retried
		case body == "m11":
			return true, false // refused every time
		default: // every third entry refused on its first two attempts
			n, _ := strconv.Atoi(body[1:])
			return n%3 == 0 && attempt <= 2, false
		}
	}}
	proxy := httptest.NewServer(r)
	defer proxy.Close()
	viaProxy := sqs.New(sqs.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(proxy.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("s3thumb-test", "s3thumb-test", ""),
	})
	queueURL, _ := srv.CreateQueue(t, "q-"+newToken(), time.Minute, 0)
	q, err := NewSQS(ctx, viaProxy, queueURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for i := range 25 {
		bodies = append(bodies, fmt.Sprintf("m%02d", i))
	}
	bs := make([][]byte, len(bodies))
	for i, b := range bodies {
		bs[i] = []byte(b)
	}
	err = q.Send(ctx, bs)
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send = %v, want a *SendError", err)
	}
	if want := []int{7, 11, 19}; se.Total != 25 || !slices.Equal(se.Failed, want) {
		t.Errorf("failed %v of %d, want %v of 25", se.Failed, se.Total, want)
	}
	if want := "3 of 25 messages failed"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	r.mu.Lock()
	if n := r.attempts["m07"]; n != 1 {
		t.Errorf("sender's fault entry tried %d times, want 1", n)
	}
	if n := r.attempts["m11"]; n != sendAttempts {
		t.Errorf("refused entry tried %d times, want %d", n, sendAttempts)
	}
	if n := r.attempts["m03"]; n != 3 {
		t.Errorf("entry refused twice tried %d times, want 3", n)
	}
	r.mu.Unlock()

	direct, err := NewSQS(ctx, srv.Client(), queueURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range receiveAll(t, direct, time.Second) {
		got = append(got, string(m.Body))
	}
	slices.Sort(got)
	want := slices.DeleteFunc(slices.Clone(bodies), func(b string) bool { return b == "m07" || b == "m11" || b == "m19" })
	if !slices.Equal(got, want) {
		t.Errorf("queued %q, want each of %q once", got, want)
	}
}
