package awssetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// PolicyVersion is the IAM policy language version s3thumb writes.
const PolicyVersion = "2012-10-17"

// Sids of the statements s3thumb owns in bucket policies. Statements with
// other Sids (or none) are never changed.
const (
	SidPublicRead = "S3thumbPublicRead"
	SidPublicList = "S3thumbPublicList"
	SidLogging    = "S3thumbAccessLogDelivery"
)

// ourSids are all the Sids s3thumb owns, current and retired.
var ourSids = []string{SidPublicRead, SidPublicList, SidLogging, SidS3Events}

// loggingService is the principal that delivers server access logs.
const loggingService = "logging.s3.amazonaws.com"

// Statement is one statement of a policy as s3thumb writes it.
type Statement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal any            `json:"Principal,omitempty"` // "*" or {"Service": "..."}
	Action    any            `json:"Action"`              // a string or []string
	Resource  any            `json:"Resource"`            // a string or []string
	Condition map[string]any `json:"Condition,omitempty"`
}

// Policy is a bucket or IAM policy. Statements are kept as raw JSON so that
// statements s3thumb does not own are written back exactly as read.
type Policy struct {
	Version   string            `json:"Version"`
	ID        string            `json:"Id,omitempty"`
	Statement []json.RawMessage `json:"Statement"`
}

// ParsePolicy reads a policy document. A single statement object (allowed
// by the policy grammar) is read as a list of one.
func ParsePolicy(doc string) (*Policy, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	p := &Policy{Version: raw.Version, ID: raw.ID}
	switch s := bytes.TrimSpace(raw.Statement); {
	case len(s) == 0 || bytes.Equal(s, []byte("null")):
	case s[0] == '{':
		p.Statement = []json.RawMessage{s}
	case s[0] == '[':
		if err := json.Unmarshal(s, &p.Statement); err != nil {
			return nil, fmt.Errorf("read policy statements: %w", err)
		}
	default:
		return nil, errors.New("read policy: Statement is neither an object nor a list")
	}
	return p, nil
}

// String is the policy as compact JSON.
func (p *Policy) String() string {
	b, err := json.Marshal(p)
	if err != nil {
		return "" // cannot happen: every statement is valid JSON
	}
	return string(b)
}

// sid is the Sid of a raw statement, "" if it has none or is not an
// object.
func sid(stmt json.RawMessage) string {
	var s struct{ Sid string }
	if json.Unmarshal(stmt, &s) != nil {
		return ""
	}
	return s.Sid
}

// mergeStatements returns cur with s3thumb's statements set to want: a
// statement of ours that is wanted replaces the one with its Sid where it
// stands, one that is not wanted any more is dropped, and new ones are
// appended. Statements that are not ours are kept as they are. cur may be
// nil (no policy yet).
func mergeStatements(cur *Policy, want []Statement) (*Policy, error) {
	out := &Policy{Version: PolicyVersion}
	if cur != nil {
		out.Version, out.ID = cur.Version, cur.ID
		if out.Version == "" {
			out.Version = PolicyVersion
		}
	}
	byID := make(map[string]json.RawMessage, len(want))
	var order []string
	for _, st := range want {
		b, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode statement %s: %w", st.Sid, err)
		}
		byID[st.Sid] = b
		order = append(order, st.Sid)
	}
	placed := map[string]bool{}
	if cur != nil {
		for _, stmt := range cur.Statement {
			id := sid(stmt)
			if !slices.Contains(ourSids, id) {
				out.Statement = append(out.Statement, stmt)
				continue
			}
			if b, ok := byID[id]; ok && !placed[id] {
				out.Statement = append(out.Statement, b)
				placed[id] = true
			}
		}
	}
	for _, id := range order {
		if !placed[id] {
			out.Statement = append(out.Statement, byID[id])
		}
	}
	return out, nil
}

// publicStatements are the statements that make the website bucket
// readable (and, with list, listable) by anyone.
func publicStatements(partition, bucket string, list bool) []Statement {
	st := []Statement{{
		Sid:       SidPublicRead,
		Effect:    "Allow",
		Principal: "*",
		Action:    "s3:GetObject",
		Resource:  bucketARN(partition, bucket) + "/*",
	}}
	if list {
		st = append(st, Statement{
			Sid:       SidPublicList,
			Effect:    "Allow",
			Principal: "*",
			Action:    "s3:ListBucket",
			Resource:  bucketARN(partition, bucket),
		})
	}
	return st
}

// loggingStatement lets S3's logging service write the source bucket's
// access logs under prefix in the log bucket.
func loggingStatement(partition, logBucket, prefix, source string) Statement {
	return Statement{
		Sid:       SidLogging,
		Effect:    "Allow",
		Principal: map[string]any{"Service": loggingService},
		Action:    "s3:PutObject",
		Resource:  bucketARN(partition, logBucket) + "/" + prefix + "*",
		Condition: map[string]any{
			"ArnLike": map[string]any{"aws:SourceArn": bucketARN(partition, source)},
		},
	}
}

// bucketARN is the ARN of a bucket.
func bucketARN(partition, bucket string) string {
	return "arn:" + partition + ":s3:::" + bucket
}

// Partition is the AWS partition of a region: aws, aws-cn or aws-us-gov.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
