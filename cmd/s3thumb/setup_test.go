package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/golden"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3thumb/s3thumb/internal/awssetup"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// runCLI runs the command line in-process and returns stdout, stderr and
// the error main would exit with.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := newApp(&stdout, &stderr).RunContext(ctx, append([]string{"s3thumb"}, args...))
	return stdout.String(), stderr.String(), err
}

// awsEnv gives the process the credentials of a test server and nothing
// else from the AWS configuration of the machine.
func awsEnv(t *testing.T, key, secret string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      key,
		"AWS_SECRET_ACCESS_KEY":                  secret,
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_REGION":                             testserver.Region,
		"AWS_DEFAULT_REGION":                     "",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
	} {
		t.Setenv(k, v)
	}
}

// TestSetupCommandOnMoto runs s3thumb setup against moto's S3 and SQS: a
// dry run that changes nothing and prints the exact documents, a run that
// prints its changes, and a second run that has none.
func TestSetupCommandOnMoto(t *testing.T) {
	srv := testserver.Moto(t)
	awsEnv(t, srv.AccessKey, srv.SecretKey)
	srv.CreateBucket(t, "images.example.com")
	srv.CreateBucket(t, "example-logs")
	args := []string{"setup",
		"--bucket", "images.example.com",
		"--responder-url", "http://imgpro.example.com",
		"--log-bucket", "example-logs",
		"--queue", "sqs://s3thumb-jobs",
		"--s3-endpoint", srv.Endpoint, "--s3-path-style",
		"--sqs-endpoint", srv.Endpoint,
	}

	out, _, err := runCLI(t, append(args, "--dry-run")...)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	golden.Check(t, "setup-dry-run.json", []byte(out))

	out, _, err = runCLI(t, args...)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	for _, want := range []string{
		"policy: add statement S3thumbPublicRead",
		"website: enable static website hosting (index document index.html)",
		"website: add routing rule 404 → http://imgpro.example.com/resize?src=KEY (302)",
		"lifecycle: add rule s3thumb-expire-thumbnails",
		"log bucket policy: add statement S3thumbAccessLogDelivery",
		"logging: send access logs to s3://example-logs/images.example.com/",
		"queue: create s3thumb-jobs-dlq",
		"queue: create s3thumb-jobs",
		"s3://images.example.com is set up: 9 changes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = runCLI(t, args...)
	if err != nil || out != "no changes: s3://images.example.com is already set up\n" {
		t.Errorf("second run printed %q (error %v), want no changes", out, err)
	}
	out, _, err = runCLI(t, append(args, "--dry-run")...)
	var plan struct{ Changes []any }
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.Changes == nil || len(plan.Changes) != 0 {
		t.Errorf("dry run after setup: %v, %s; want JSON with \"changes\": []", err, out)
	}

	// A bucket in another region: the error says which, and what to run.
	far := srv.Client()
	if _, err := far.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("far.example.com"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "setup", "--bucket", "far.example.com", "--responder-url", "http://imgpro.example.com",
		"--s3-endpoint", srv.Endpoint, "--s3-path-style")
	if want := "bucket far.example.com is in region eu-west-1, not us-east-1: run with --region eu-west-1"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("bucket in another region: error %v, want %q", err, want)
	}
}

// TestSetupCommandErrors checks that each mistake gets a message saying
// what to do, and the exit code of its kind.
func TestSetupCommandErrors(t *testing.T) {
	vgw := testserver.VersityGW(t)
	vgw.CreateBucket(t, "images.example.com")
	on := []string{"--s3-endpoint", vgw.Endpoint, "--s3-path-style"}
	base := []string{"setup", "--bucket", "images.example.com", "--responder-url", "http://imgpro.example.com"}

	tests := []struct {
		name string
		env  func(t *testing.T)
		args []string
		want string
		code int
	}{
		{"no bucket", nil, []string{"setup", "--responder-url", "http://x.example.com"}, "--bucket: no bucket name", exitUsage},
		{"responder without scheme", nil, []string{"setup", "--bucket", "images.example.com", "--responder-url", "imgpro.example.com"},
			`--responder-url "imgpro.example.com": no scheme: want http://imgpro.example.com or https://imgpro.example.com`, exitUsage},
		{"logs into the website bucket", nil, append(base, "--log-bucket", "images.example.com"), "--log-bucket", exitUsage},
		{"unknown role", nil, append(base, "--print-iam-policy", "janitor"), `--print-iam-policy: unknown role "janitor"`, exitUsage},
		{"worker without queue", nil, append(base, "--print-iam-policy", "worker"), "--print-iam-policy worker: the worker's policy needs the queue name", exitUsage},
		{"no credentials", func(t *testing.T) {
			awsEnv(t, "", "")
		}, append(base, on...), "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", exitFailure},
		{"wrong secret", func(t *testing.T) {
			awsEnv(t, vgw.AccessKey, "wrong")
		}, append(base, on...), "the AWS credentials were refused (SignatureDoesNotMatch", exitFailure},
		{"no lifecycle on the server", func(t *testing.T) {
			awsEnv(t, vgw.AccessKey, vgw.SecretKey)
		}, append(base, on...), "lifecycle: the server does not implement s3:GetLifecycleConfiguration (501 NotImplemented): " +
			"this server cannot expire thumbnails by tag; run with --expire-days 0", exitFailure},
		{"no such bucket", func(t *testing.T) {
			awsEnv(t, vgw.AccessKey, vgw.SecretKey)
		}, append([]string{"setup", "--bucket", "nothing.example.com", "--responder-url", "http://imgpro.example.com"}, on...),
			"no such bucket: nothing.example.com: create it first, or run with --create-bucket", exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != nil {
				tt.env(t)
			}
			_, _, err := runCLI(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}

	t.Run("expire-days 0 works there", func(t *testing.T) {
		awsEnv(t, vgw.AccessKey, vgw.SecretKey)
		out, _, err := runCLI(t, append(append(base, on...), "--expire-days", "0")...)
		if err != nil || !strings.Contains(out, "is set up") {
			t.Fatalf("setup --expire-days 0: %v\n%s", err, out)
		}
	})
}

// TestSetupPrintIAMPolicy prints each role's policy without contacting
// anything (no credentials are set).
func TestSetupPrintIAMPolicy(t *testing.T) {
	awsEnv(t, "", "")
	for _, role := range awssetup.Roles() {
		t.Run(string(role), func(t *testing.T) {
			out, _, err := runCLI(t, "setup", "--bucket", "images.example.com", "--queue", "s3thumb-jobs",
				"--log-bucket", "example-logs", "--region", "eu-west-1", "--print-iam-policy", string(role))
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Version   string
				Statement []struct{ Sid, Effect string }
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil || p.Version != awssetup.PolicyVersion || len(p.Statement) == 0 {
				t.Fatalf("not a policy (%v):\n%s", err, out)
			}
			if !strings.Contains(out, "arn:aws:s3:::images.example.com") {
				t.Errorf("policy does not name the bucket:\n%s", out)
			}
		})
	}
}

// TestComposeHealthProbe checks the probe the container image's
// HEALTHCHECK runs.
func TestComposeHealthProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name   string
		status int
		args   []string
		want   string // "" for success
		code   int
	}{
		{"healthy", 200, []string{srv.URL + "/healthz"}, "", exitOK},
		{"unhealthy", 503, []string{srv.URL + "/healthz"}, "503 Service Unavailable", exitFailure},
		{"wrong path", 200, []string{srv.URL + "/nope"}, "404 Not Found", exitFailure},
		{"nothing listening", 200, []string{closed.URL + "/healthz"}, "connection refused", exitFailure},
		{"too slow", 200, []string{"--timeout", "200ms", slow.URL}, "Timeout", exitFailure},
		{"no URL", 200, nil, "want one URL", exitUsage},
		{"not a URL", 200, []string{"localhost:8080/healthz"}, "not an http:// or https:// URL", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status = tt.status
			_, _, err := runCLI(t, append([]string{"probe"}, tt.args...)...)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("probe failed: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}
}
