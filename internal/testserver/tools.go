package testserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	// EnvTools names the folder the test tools are installed in; by default
	// .tools in the repository root.
	EnvTools = "S3THUMB_TEST_TOOLS"
	// EnvRequire, set to 1, turns a missing tool into a test failure instead
	// of a skip (make test and CI set it).
	EnvRequire = "S3THUMB_REQUIRE_TEST_SERVERS"
)

const installHint = "run scripts/install-test-tools.sh"

// toolsDir is the folder scripts/install-test-tools.sh installs into.
func toolsDir() (string, error) {
	if dir := os.Getenv(EnvTools); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".tools"), nil
}

// repoRoot walks up from the working directory (a package directory under
// go test) to the folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod above the working directory; set %s", EnvTools)
		}
		dir = parent
	}
}

// tool returns the absolute path of a file under the tools folder, or skips
// (or fails, with S3THUMB_REQUIRE_TEST_SERVERS=1) the test when it is
// missing.
func tool(t testing.TB, rel ...string) string {
	t.Helper()
	dir, err := toolsDir()
	if err != nil {
		missing(t, err)
	}
	path := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(path); err != nil {
		missing(t, err)
	}
	return path
}

// program returns the path of a program found in PATH, like tool.
func program(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, err)
	}
	return path
}

func missing(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
		err = fmt.Errorf("%w (%s)", err, installHint)
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("test server tool missing and %s=1: %v", EnvRequire, err)
	}
	t.Skipf("test server tool missing: %v", err)
}
