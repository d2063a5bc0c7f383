package awssetup

import (
	"slices"
	"testing"
)

// The worker reads tags (a refresh, an upload event of a key named like a
// thumbnail): its least-privilege policy grants s3:GetObjectTagging.
func TestWorkerMayReadTags(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bucket, cfg.Region, cfg.Queue = "images.example.com", "eu-west-1", "jobs"
	p, err := IAMPolicy(RoleWorker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g := grants(t, p); !slices.Contains(g, "s3:GetObjectTagging arn:aws:s3:::images.example.com/*") {
		t.Errorf("worker policy cannot read tags; every refresh and every upload event for a thumbnail-named key fails with AccessDenied:\n%q", g)
	}
}
