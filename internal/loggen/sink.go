package loggen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/s3thumb/s3thumb/internal/atomicfile"
)

// Sink receives the log objects a Generator makes.
type Sink interface {
	WriteObject(ctx context.Context, key string, body []byte) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, key string, body []byte) error

// WriteObject calls f.
func (f SinkFunc) WriteObject(ctx context.Context, key string, body []byte) error {
	return f(ctx, key, body)
}

// DirSink writes each object as a file under Dir, the key's slashes making
// folders. A file appears whole or not at all: it is written under a
// temporary name and renamed.
type DirSink struct {
	Dir string
}

// WriteObject writes body to Dir/key.
func (d DirSink) WriteObject(ctx context.Context, key string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains("/"+key+"/", "/../") {
		return fmt.Errorf("write log object %q: unsafe key", key)
	}
	path := filepath.Join(d.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write log object %s: %w", key, err)
	}
	if err := atomicfile.WriteFile(path, "", body); err != nil {
		return fmt.Errorf("log object %s: %w", key, err)
	}
	return nil
}
