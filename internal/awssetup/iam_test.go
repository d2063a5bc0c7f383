package awssetup

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/layout"
)

// grants flattens a policy to "Action Resource" lines, one per action and
// resource, with the statement's condition keys noted.
func grants(t *testing.T, p *Policy) []string {
	t.Helper()
	var out []string
	for _, raw := range p.Statement {
		var st struct {
			Effect    string
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if st.Effect != "Allow" {
			t.Errorf("statement %s: effect %s, want Allow", raw, st.Effect)
		}
		var cond []string
		for op, kv := range st.Condition {
			for k := range kv {
				cond = append(cond, op+":"+k)
			}
		}
		slices.Sort(cond)
		for _, a := range list(st.Action) {
			for _, r := range list(st.Resource) {
				line := a + " " + r
				if len(cond) > 0 {
					line += " if " + strings.Join(cond, ",")
				}
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func TestIAMPolicy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bucket, cfg.Queue, cfg.LogBucket, cfg.Region = "images.example.com", "jobs", "example-logs", "eu-west-1"
	const (
		b      = "arn:aws:s3:::images.example.com"
		q      = "arn:aws:sqs:eu-west-1:*:jobs"
		dlq    = "arn:aws:sqs:eu-west-1:*:jobs-dlq"
		tagged = " if StringEquals:s3:RequestObjectTag/thumbnail"
	)
	thumbs := []string{
		"s3:GetObject " + b + "/*",
		"s3:GetObjectTagging " + b + "/*", // thumbtag: what is a thumbnail
		"s3:ListBucket " + b,
		"s3:PutObject " + b + "/*" + tagged,
		"s3:PutObjectTagging " + b + "/*" + tagged,
		"s3:DeleteObject " + b + "/*", // thumbnails follow a changed or deleted original; no tag condition S3 would ignore
	}
	tests := []struct {
		role Role
		want []string
	}{
		{RoleResponder, thumbs},
		{RoleWorker, append(slices.Clone(thumbs),
			"sqs:ChangeMessageVisibility "+q, "sqs:DeleteMessage "+q, "sqs:GetQueueAttributes "+q, "sqs:GetQueueUrl "+q,
			"sqs:ReceiveMessage "+q, "sqs:GetQueueUrl "+dlq, "sqs:SendMessage "+dlq,
			"s3:GetObject arn:aws:s3:::example-logs/s3thumb-state/"+layout.PopularClasses)},
		{RoleAnalyzer, []string{
			"s3:ListBucket arn:aws:s3:::example-logs if StringLike:s3:prefix",
			"s3:GetObject arn:aws:s3:::example-logs/images.example.com/*",
			"s3:DeleteObject arn:aws:s3:::example-logs/s3thumb-state/*", "s3:GetObject arn:aws:s3:::example-logs/s3thumb-state/*",
			"s3:PutObject arn:aws:s3:::example-logs/s3thumb-state/*",
			"s3:GetObject " + b + "/*", "s3:GetObjectTagging " + b + "/*", "s3:ListBucket " + b,
			"s3:DeleteObject " + b + "/*", // --delete-stale
			"sqs:GetQueueAttributes " + q, "sqs:GetQueueUrl " + q, "sqs:SendMessage " + q,
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			p, err := IAMPolicy(tt.role, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := grants(t, p)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("grants\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if _, err := PolicyJSON(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIAMPolicySetupCoversItsCalls checks that the setup role grants every
// action setup's errors can name, so the two cannot drift.
func TestIAMPolicySetupCoversItsCalls(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bucket, cfg.Queue, cfg.LogBucket = "images.example.com", "jobs", "example-logs"
	p, err := IAMPolicy(RoleSetup, cfg)
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, g := range grants(t, p) {
		granted[strings.Fields(g)[0]] = true
	}
	for _, a := range []string{
		"s3:ListBucket", "s3:CreateBucket", "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
		"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketWebsite", "s3:PutBucketWebsite",
		"s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetBucketLogging", "s3:PutBucketLogging",
		"sqs:GetQueueUrl", "sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
	} {
		if !granted[a] {
			t.Errorf("the setup role lacks %s", a)
		}
	}
}

func TestIAMPolicyErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bucket = "images.example.com"
	tests := []struct {
		role Role
		cfg  Config
		want error
		msg  string
	}{
		{"janitor", cfg, ErrUnknownRole, "want responder, worker, analyzer, setup"},
		{RoleWorker, cfg, ErrInvalidConfig, "needs the queue name"},
		{RoleAnalyzer, cfg, ErrInvalidConfig, "needs the log bucket"},
		{RoleResponder, Config{}, ErrInvalidConfig, "no bucket name"},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			_, err := IAMPolicy(tt.role, tt.cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
}

// TestIAMPolicyConditionsS3Evaluates: an Allow whose condition key S3 does
// not supply for the action never matches, so it grants nothing. S3 does
// not evaluate s3:ExistingObjectTag/<tag-key> for PUT Object and DELETE
// Object ("When granting permissions for the PUT Object and DELETE Object
// operations, this condition key is not supported": S3 User Guide,
// Tagging and access control policies). A delete allowed only on the
// thumbnail tag lets nothing be deleted on AWS: the thumbnails of a
// deleted original would stay, the worker would retry the event until it
// is dead-lettered, and the analyzer's --delete-stale would delete
// nothing.
func TestIAMPolicyConditionsS3Evaluates(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bucket, cfg.Queue, cfg.LogBucket, cfg.Region = "images.example.com", "jobs", "example-logs", "eu-west-1"
	for _, role := range Roles() {
		p, err := IAMPolicy(role, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range grants(t, p) {
			action, rest, _ := strings.Cut(g, " ")
			if (action == "s3:DeleteObject" || action == "s3:PutObject") && strings.Contains(rest, "s3:ExistingObjectTag/") {
				t.Errorf("%s grants %q: S3 does not evaluate s3:ExistingObjectTag for %s, so this Allow never applies", role, g, action)
			}
		}
	}
}
