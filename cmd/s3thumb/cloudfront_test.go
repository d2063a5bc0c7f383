package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

// TestCloudFrontOriginGroup reads scripts/deploy/cloudfront.yaml as
// CloudFormation would take it with MissRoute=origin-group: the default
// behaviour targets an origin group that fails over on 403 and 404 from the
// bucket's REST endpoint (the website endpoint answers a miss with its
// routing rule's 302, which never fails over) to the responder, only for GET
// and HEAD (CloudFront fails over nothing else), and 5xx are not cached.
// With the default MissRoute it is the redirect variant, as before.
func TestCloudFrontOriginGroup(t *testing.T) {
	data, err := os.ReadFile("../../scripts/deploy/cloudfront.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl any
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	// pick resolves an !If [condition, then, else] (a three-item list
	// whose first item names a condition) for the condition's value.
	var pick func(v any, on bool) any
	pick = func(v any, on bool) any {
		if l, ok := v.([]any); ok && len(l) == 3 && l[0] == "UseOriginGroup" {
			if on {
				return pick(l[1], on)
			}
			return pick(l[2], on)
		}
		return v
	}
	at := func(v any, path ...string) any {
		for _, k := range path {
			m, ok := v.(map[any]any)
			if !ok {
				t.Fatalf("%s: not a mapping at %q", strings.Join(path, "."), k)
			}
			v = m[k]
		}
		return v
	}
	if got := at(tmpl, "Parameters", "MissRoute", "AllowedValues"); fmt.Sprint(got) != "[redirect origin-group]" {
		t.Fatalf("MissRoute values %v", got)
	}
	if got := at(tmpl, "Conditions", "UseOriginGroup"); fmt.Sprint(got) != "[MissRoute origin-group]" {
		t.Fatalf("UseOriginGroup = %v", got)
	}
	dist := at(tmpl, "Resources", "Distribution", "Properties", "DistributionConfig")
	origins := map[string]map[any]any{}
	// In this order: the origins of the origin-group variant are checked
	// after the loop.
	for _, on := range []bool{false, true} {
		want := map[bool][]string{false: {"website", "responder"}, true: {"website", "responder", "bucket"}}[on]
		clear(origins)
		for _, o := range at(dist, "Origins").([]any) {
			if o = pick(o, on); o != "AWS::NoValue" {
				origins[at(o, "Id").(string)] = o.(map[any]any)
			}
		}
		for _, id := range want {
			if origins[id] == nil {
				t.Fatalf("origin-group %v: no origin %q among %v", on, id, origins)
			}
		}
		if len(origins) != len(want) {
			t.Fatalf("origin-group %v: origins %v, want %v", on, origins, want)
		}
		target := pick(at(dist, "DefaultCacheBehavior", "TargetOriginId"), on)
		if wantTarget := map[bool]string{false: "website", true: "bucket-then-responder"}[on]; target != wantTarget {
			t.Fatalf("origin-group %v: default behaviour targets %v, want %s", on, target, wantTarget)
		}
	}
	if host := fmt.Sprint(at(origins["bucket"], "DomainName")); !strings.Contains(host, ".s3.") || strings.Contains(host, "website") {
		t.Errorf("primary origin %s: want the bucket's REST endpoint", host)
	}
	groups := pick(at(dist, "OriginGroups"), true)
	items := at(groups, "Items").([]any)
	if len(items) != 1 || at(items[0], "Id") != "bucket-then-responder" {
		t.Fatalf("origin groups %v", groups)
	}
	var members []string
	for _, m := range at(items[0], "Members", "Items").([]any) {
		members = append(members, at(m, "OriginId").(string))
	}
	if !slices.Equal(members, []string{"bucket", "responder"}) {
		t.Errorf("members %v, want the bucket first, then the responder", members)
	}
	if codes := at(items[0], "FailoverCriteria", "StatusCodes", "Items"); fmt.Sprint(codes) != "[403 404]" {
		t.Errorf("failover on %v, want [403 404]", codes)
	}
	if m := at(dist, "DefaultCacheBehavior", "AllowedMethods"); fmt.Sprint(m) != "[GET HEAD]" {
		t.Errorf("allowed methods %v: failover needs GET and HEAD only", m)
	}
	zero := map[int]bool{}
	for _, e := range pick(at(dist, "CustomErrorResponses"), true).([]any) {
		if at(e, "ErrorCachingMinTTL") == 0 {
			zero[at(e, "ErrorCode").(int)] = true
		}
	}
	for _, code := range []int{500, 502, 503, 504} {
		if !zero[code] {
			t.Errorf("%d is cached: want ErrorCachingMinTTL 0 (a shed or timed-out request must be retried)", code)
		}
	}
	if pick(at(dist, "OriginGroups"), false) != "AWS::NoValue" || pick(at(dist, "CustomErrorResponses"), false) != "AWS::NoValue" {
		t.Error("the redirect variant has an origin group or error responses")
	}
}
