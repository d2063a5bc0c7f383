package awssetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/golden"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fullConfig asks for every part, in eu-west-1.
func fullConfig() Config {
	cfg := DefaultConfig()
	cfg.Bucket = "images.example.com"
	cfg.ResponderURL = "http://imgpro.example.com"
	cfg.Region = "eu-west-1"
	cfg.LogBucket = "example-logs"
	cfg.LogPrefix = "s3/images.example.com/"
	cfg.Queue = "s3thumb-jobs"
	return cfg
}

// appliedState is the state a bucket and queues are in once plan was
// applied, as S3 and SQS would report it.
func appliedState(t *testing.T, plan Plan) State {
	t.Helper()
	st := State{
		BucketExists:         true,
		LogBucketExists:      plan.LogBucket != "",
		PublicAccessBlock:    plan.PublicAccessBlock,
		Policy:               roundTripPolicy(t, plan.Policy),
		Website:              plan.Website,
		Lifecycle:            plan.Lifecycle,
		LifecycleMinimumSize: plan.LifecycleMinimumSize,
		LogBucketPolicy:      roundTripPolicy(t, plan.LogBucketPolicy),
	}
	if plan.Logging != nil {
		st.Logging = plan.Logging.LoggingEnabled
	}
	queues := map[string]*QueueState{}
	for _, q := range plan.Queues {
		attrs := map[string]string{
			"QueueArn":               "arn:aws:sqs:eu-west-1:123456789012:" + q.Name,
			"MessageRetentionPeriod": "345600",
			"DelaySeconds":           "0",
		}
		for k, v := range q.Attributes {
			attrs[k] = v
		}
		queues[q.Name] = &QueueState{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/" + q.Name, Attributes: attrs}
	}
	if len(plan.Queues) == 2 {
		st.DeadLetterQueue, st.Queue = queues[plan.Queues[0].Name], queues[plan.Queues[1].Name]
		// The redrive policy as SQS reports it: the real ARN, the count
		// as a string.
		rp, ok := parseRedrive(plan.Queues[1].Attributes["RedrivePolicy"])
		if !ok {
			t.Fatalf("unreadable redrive policy %q", plan.Queues[1].Attributes["RedrivePolicy"])
		}
		st.Queue.Attributes["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, st.DeadLetterQueue.arn(), rp.MaxReceiveCount)
	}
	return st
}

// roundTripPolicy is a policy as S3 returns it: re-read from its JSON.
func roundTripPolicy(t *testing.T, p *Policy) *Policy {
	t.Helper()
	if p == nil {
		return nil
	}
	out, err := ParsePolicy(p.String())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// existingState is a bucket someone set up by hand, in the 2017 way, with
// rules and statements of its own.
func existingState(t *testing.T) State {
	t.Helper()
	old := `{"Version":"2012-10-17","Id":"site","Statement":[` +
		`{"Sid":"TeamWrite","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/uploader"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::images.example.com/uploads/*"},` +
		`{"Sid":"S3thumbPublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::images.example.com/*"]}]}`
	pol, err := ParsePolicy(old)
	if err != nil {
		t.Fatal(err)
	}
	logPol, err := ParsePolicy(`{"Version":"2012-10-17","Statement":{"Sid":"KeepOut","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::example-logs"}}`)
	if err != nil {
		t.Fatal(err)
	}
	return State{
		BucketExists:    true,
		LogBucketExists: true,
		PublicAccessBlock: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
		Policy: pol,
		Website: &s3types.WebsiteConfiguration{
			IndexDocument: &s3types.IndexDocument{Suffix: aws.String("home.html")},
			ErrorDocument: &s3types.ErrorDocument{Key: aws.String("error.html")},
			RoutingRules: []s3types.RoutingRule{
				{Condition: &s3types.Condition{KeyPrefixEquals: aws.String("docs/")},
					Redirect: &s3types.Redirect{ReplaceKeyPrefixWith: aws.String("documents/")}},
				// The 2017 PHP sample's rule: a 301 on 404, to resize.php.
				{Condition: &s3types.Condition{HttpErrorCodeReturnedEquals: aws.String("404")},
					Redirect: &s3types.Redirect{HostName: aws.String("old.example.com"), ReplaceKeyPrefixWith: aws.String("resize.php?src=")}},
				{Condition: &s3types.Condition{HttpErrorCodeReturnedEquals: aws.String("403")},
					Redirect: &s3types.Redirect{HostName: aws.String("older.example.com")}},
			},
		},
		Lifecycle: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{
			{ID: aws.String("expire-uploads"), Status: s3types.ExpirationStatusEnabled,
				Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("uploads/tmp/")},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(2)}},
			{ID: aws.String(LifecycleRuleID), Status: s3types.ExpirationStatusEnabled,
				Filter:     &s3types.LifecycleRuleFilter{Tag: &s3types.Tag{Key: aws.String("thumbnail"), Value: aws.String("yes")}},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(7)}},
		}},
		LifecycleMinimumSize: s3types.TransitionDefaultMinimumObjectSizeVariesByStorageClass,
		Logging:              &s3types.LoggingEnabled{TargetBucket: aws.String("old-logs"), TargetPrefix: aws.String("images/")},
		LogBucketPolicy:      logPol,
		DeadLetterQueue: &QueueState{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/s3thumb-jobs-dlq",
			Attributes: map[string]string{"QueueArn": "arn:aws:sqs:eu-west-1:123456789012:s3thumb-jobs-dlq", "MessageRetentionPeriod": "345600"}},
		Queue: &QueueState{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/s3thumb-jobs",
			Attributes: map[string]string{"QueueArn": "arn:aws:sqs:eu-west-1:123456789012:s3thumb-jobs", "VisibilityTimeout": "30"}},
	}
}

// TestPlanGolden checks the exact documents --dry-run prints, for a bare
// bucket, a bucket set up by hand, and the switches between choices.
func TestPlanGolden(t *testing.T) {
	fresh, err := NewPlan(fullConfig(), State{BucketExists: true, LogBucketExists: true})
	if err != nil {
		t.Fatal(err)
	}
	noList := fullConfig()
	noList.PublicList = false
	expireOff := fullConfig()
	expireOff.ExpireDays = 0
	create := DefaultConfig()
	create.Bucket, create.ResponderURL, create.CreateBucket = "images.example.com", "https://imgpro.example.com/thumbs", true
	create.LogBucket = "example-logs"
	path := fullConfig()
	path.ResponderURL = "https://imgpro.example.com:8443/a/b/"
	path.IndexDocument = "index.htm"
	path.VisibilityTimeout = 10 * time.Minute
	path.MaxReceives = 3

	tests := []struct {
		name string
		cfg  Config
		cur  State
	}{
		{"bare-bucket", fullConfig(), State{BucketExists: true, LogBucketExists: true}},
		{"set-up-by-hand", fullConfig(), existingState(t)},
		{"no-public-list", noList, appliedState(t, fresh)},
		{"expire-off", expireOff, appliedState(t, fresh)},
		{"create-bucket", create, State{}},
		{"responder-path-and-queue-settings", path, existingState(t)},
		{"already-set-up", fullConfig(), appliedState(t, fresh)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := NewPlan(tt.cfg, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			got, err := plan.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON:\n%s", got)
			}
			golden.Check(t, "plan-"+tt.name+".json", got)
		})
	}
}

// TestPlanIsIdempotent checks that applying a plan leaves nothing to
// change, whatever the bucket had before.
func TestPlanIsIdempotent(t *testing.T) {
	noList := fullConfig()
	noList.PublicList = false
	tests := []struct {
		name string
		cfg  Config
		cur  State
	}{
		{"bare", fullConfig(), State{BucketExists: true, LogBucketExists: true}},
		{"by hand", fullConfig(), existingState(t)},
		{"by hand, no public list", noList, existingState(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := NewPlan(tt.cfg, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Changes) == 0 {
				t.Fatal("first plan changes nothing")
			}
			second, err := NewPlan(tt.cfg, appliedState(t, first))
			if err != nil {
				t.Fatal(err)
			}
			if len(second.Changes) != 0 {
				t.Errorf("after applying, the plan still changes %v", second.Changes)
			}
		})
	}
}

// TestPlanKeepsOthers checks what the merge keeps of a bucket set up by
// hand, and what it replaces.
func TestPlanKeepsOthers(t *testing.T) {
	cur := existingState(t)
	plan, err := NewPlan(fullConfig(), cur)
	if err != nil {
		t.Fatal(err)
	}
	rules := plan.Website.RoutingRules
	if len(rules) != 2 {
		t.Fatalf("%d routing rules, want docs/ and s3thumb's (both old catch-all rules replaced by one)", len(rules))
	}
	if aws.ToString(rules[0].Condition.KeyPrefixEquals) != "docs/" {
		t.Errorf("first rule %+v, want the docs/ rule kept first", rules[0].Condition)
	}
	if aws.ToString(rules[1].Redirect.HostName) != "imgpro.example.com" {
		t.Errorf("second rule goes to %q, want s3thumb's in the place of the old one", aws.ToString(rules[1].Redirect.HostName))
	}
	if aws.ToString(plan.Website.IndexDocument.Suffix) != "home.html" || aws.ToString(plan.Website.ErrorDocument.Key) != "error.html" {
		t.Error("index or error document not kept")
	}
	var sids []string
	for _, st := range plan.Policy.Statement {
		sids = append(sids, sid(st))
	}
	if got := strings.Join(sids, ","); got != "TeamWrite,S3thumbPublicRead,S3thumbPublicList" {
		t.Errorf("statements %s, want TeamWrite kept, ours updated in place and the list grant added", got)
	}
	if !bytes.Equal(plan.Policy.Statement[0], cur.Policy.Statement[0]) {
		t.Errorf("TeamWrite rewritten: %s", plan.Policy.Statement[0])
	}
	if plan.Policy.ID != "site" {
		t.Errorf("policy Id %q, want site kept", plan.Policy.ID)
	}
	if n := len(plan.Lifecycle.Rules); n != 2 || aws.ToString(plan.Lifecycle.Rules[0].ID) != "expire-uploads" {
		t.Errorf("lifecycle rules %s, want expire-uploads kept", mustJSON(t, plan.Lifecycle))
	}
	if n := len(plan.LogBucketPolicy.Statement); n != 2 || sid(plan.LogBucketPolicy.Statement[0]) != "KeepOut" {
		t.Errorf("log bucket policy %s, want KeepOut kept and the delivery grant added", plan.LogBucketPolicy)
	}
}

// TestPlanRefuses checks the configurations setup will not overwrite.
func TestPlanRefuses(t *testing.T) {
	redirectAll := State{BucketExists: true, LogBucketExists: true, Website: &s3types.WebsiteConfiguration{
		RedirectAllRequestsTo: &s3types.RedirectAllRequestsTo{HostName: aws.String("www.example.com")},
	}}
	full := State{BucketExists: true, LogBucketExists: true, Website: &s3types.WebsiteConfiguration{}}
	for i := range MaxRoutingRules {
		full.Website.RoutingRules = append(full.Website.RoutingRules, s3types.RoutingRule{
			Condition: &s3types.Condition{KeyPrefixEquals: aws.String("p" + string(rune('a'+i%26)) + "/")},
			Redirect:  &s3types.Redirect{ReplaceKeyPrefixWith: aws.String("q/")},
		})
	}
	tests := []struct {
		name string
		cur  State
		want error
		msg  string
	}{
		{"redirects every request", redirectAll, ErrConflict, "redirects every request to www.example.com"},
		{"fifty rules already", full, ErrConflict, "has 50 routing rules; S3 allows 50"},
		{"no bucket", State{}, ErrNoBucket, "images.example.com"},
		{"no log bucket", State{BucketExists: true}, ErrNoBucket, "log bucket: no such bucket: example-logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(fullConfig(), tt.cur)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestChangedAttributes(t *testing.T) {
	tests := []struct {
		name      string
		cur, want map[string]string
		changed   []string
	}{
		{"same", map[string]string{"VisibilityTimeout": "120"}, map[string]string{"VisibilityTimeout": "120"}, nil},
		{"differs", map[string]string{"VisibilityTimeout": "30"}, map[string]string{"VisibilityTimeout": "120"}, []string{"VisibilityTimeout"}},
		{"missing", map[string]string{}, map[string]string{"VisibilityTimeout": "120"}, []string{"VisibilityTimeout"}},
		{"redrive count as string", map[string]string{"RedrivePolicy": `{"maxReceiveCount":"5","deadLetterTargetArn":"arn:x"}`},
			map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:x","maxReceiveCount":5}`}, nil},
		{"redrive count differs", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:x","maxReceiveCount":3}`},
			map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:x","maxReceiveCount":5}`}, []string{"RedrivePolicy"}},
		{"redrive unreadable", map[string]string{"RedrivePolicy": `{`},
			map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:x","maxReceiveCount":5}`}, []string{"RedrivePolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := changedAttributes(tt.cur, tt.want)
			if len(got) != len(tt.changed) {
				t.Fatalf("changed %v, want %v", got, tt.changed)
			}
			for _, k := range tt.changed {
				if _, ok := got[k]; !ok {
					t.Errorf("%s not reported changed", k)
				}
			}
		})
	}
}

func TestSamePolicyNormalForm(t *testing.T) {
	a, _ := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Principal":{"AWS":["x","y"]},"Action":["s3:B","s3:A"],"Resource":"r"}]}`)
	b, _ := ParsePolicy(`{"Statement":[{"Resource":"arn:aws:s3:::b/*","Action":"s3:GetObject","Principal":"*","Effect":"Allow","Sid":"A"},{"Effect":"Allow","Principal":{"AWS":["y","x"]},"Action":["s3:A","s3:B"],"Resource":["r"]}],"Version":"2012-10-17"}`)
	c, _ := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Principal":{"AWS":["x","y"]},"Action":["s3:B","s3:A"],"Resource":"r"}]}`)
	if same, err := samePolicy(a, b); err != nil || !same {
		t.Errorf("policies that differ only in layout compare different (err %v)", err)
	}
	if same, _ := samePolicy(a, c); same {
		t.Error("an Allow and a Deny compare the same")
	}
	if same, _ := samePolicy(a, nil); same {
		t.Error("a policy and none compare the same")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"Statement":"x"}`, `{"Statement":[1,`, `[]`} {
		if _, err := ParsePolicy(doc); err == nil {
			t.Errorf("ParsePolicy(%q) accepted it", doc)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)
	f.Add(`{"Statement":{"Sid":"S3thumbPublicRead"}}`)
	f.Add(`{"Statement":null}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParsePolicy(doc)
		if err != nil {
			return
		}
		// Whatever was read merges, and the merge is stable.
		merged, err := mergeStatements(p, publicStatements("aws", "b.example", true))
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		again, err := mergeStatements(roundTripPolicy(t, merged), publicStatements("aws", "b.example", true))
		if err != nil {
			t.Fatalf("merge again: %v", err)
		}
		if same, err := samePolicy(merged, again); err != nil || !same {
			t.Fatalf("merging twice differs:\n%s\n%s", merged, again)
		}
	})
}

// TestPlanJSONSaysNoChanges checks that a plan without changes says so
// explicitly, as "changes": [].
func TestPlanJSONSaysNoChanges(t *testing.T) {
	out, err := Plan{Bucket: "b.example"}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil || string(m["changes"]) != "[]" {
		t.Errorf("JSON %s (error %v), want \"changes\": []", out, err)
	}
}
