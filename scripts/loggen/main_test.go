package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/s3thumb/s3thumb/internal/loggen"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	args := []string{"--out", dir, "--days", "1", "--requests-per-day", "500", "--originals", "50",
		"--layout", "partitioned", "--gzip", "--seed", "3", "--start", "2026-02-01"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	var st loggen.Stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("stats %q: %v", out.String(), err)
	}
	if st.Requests == 0 || st.Objects == 0 {
		t.Fatalf("stats %+v: want requests and objects", st)
	}
	files, err := filepath.Glob(filepath.Join(dir, "logs", "123456789012", "us-east-1", "photos-example", "2026", "02", "01", "*.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(files)) != st.Objects {
		t.Errorf("%d files in the 2026/02/01 partition, want %d objects", len(files), st.Objects)
	}
	if len(files) > 0 {
		b, err := os.ReadFile(files[0])
		if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is not gzip (%v)", files[0], err)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--out", t.TempDir(), "--layout", "sideways"},
		{"--out", t.TempDir(), "--start", "yesterday"},
		{"--no-such-flag"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
