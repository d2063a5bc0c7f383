package responder

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// TestAccessLogKeepsBatchWhenWriteFails: records logged while the log
// directory cannot be written are written with the next batch that can.
func TestAccessLogKeepsBatchWhenWriteFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	d, err := NewAccessLogDir(dir, "local", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.Log(&accesslog.Record{Time: time.Now(), Operation: "WEBSITE.GET.OBJECT", Key: "a_1x1.jpg", HTTPStatus: 302})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(time.Now()); err == nil {
		t.Fatal("Flush into a missing directory succeeded")
	}
	d.Log(&accesslog.Record{Time: time.Now(), Operation: "WEBSITE.GET.OBJECT", Key: "b_1x1.jpg", HTTPStatus: 200})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(time.Now()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("log files = %v, want one", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(data, []byte("\n")) != 2 || !bytes.Contains(data, []byte("a_1x1.jpg")) || !bytes.Contains(data, []byte("b_1x1.jpg")) {
		t.Fatalf("log file holds:\n%s\nwant both records", data)
	}
}
