// Package atomicfile writes files that readers see whole or not at all: a
// temporary file, flushed to disk, renamed into place. It is the one way
// s3thumb writes such files outside its object stores (the front's access
// log, the analyzer's report, the file queue, generated logs).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes the file at path with perm, its content from write, through
// a temporary file in tmpDir ("" for path's own folder, which must be on
// the same file system). The temporary file's name starts with a dot, so
// that listings of objects pass over it; it is removed when anything fails.
func Write(path, tmpDir string, perm fs.FileMode, write func(io.Writer) error) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(path)
	}
	f, err := os.CreateTemp(tmpDir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), removeQuietly(f.Name()))
	}
	return nil
}

// WriteFile writes data to path (mode 0644) as Write does.
func WriteFile(path, tmpDir string, data []byte) error {
	return Write(path, tmpDir, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// removeQuietly removes a temporary file that may already be gone.
func removeQuietly(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
