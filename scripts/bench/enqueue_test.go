package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

func TestBenchKeys(t *testing.T) {
	out := benchKeys(25, "200x200_fill.jpg")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 25 {
		t.Fatalf("%d keys, want 25", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		k, err := thumbkey.Parse(l)
		if err != nil || k.Width != 200 || k.Height != 200 || k.Mode != thumbkey.ModeFill {
			t.Errorf("key %q parses as %+v, %v", l, k, err)
		}
		if seen[l] {
			t.Errorf("key %q repeated", l)
		}
		seen[l] = true
	}
	if lines[0] != "bench/img0000000_200x200_fill.jpg" || lines[24] != "bench/img0000024_200x200_fill.jpg" {
		t.Errorf("keys %q ... %q", lines[0], lines[24])
	}
}

func TestWithoutAWS(t *testing.T) {
	env := []string{"PATH=/bin", "AWS_PROFILE=prod", "AWS_ACCESS_KEY_ID=x", "HOME=/root", "XAWS_KEEP=1"}
	if got := withoutAWS(env); !slices.Equal(got, []string{"PATH=/bin", "HOME=/root", "XAWS_KEEP=1"}) {
		t.Errorf("withoutAWS = %q", got)
	}
}

func TestFauxqsTools(t *testing.T) {
	tools := t.TempDir()
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if _, _, _, err := fauxqsTools(tools); !errors.Is(err, errNoTools) {
		t.Errorf("empty tools folder: %v, want errNoTools", err)
	}
	mod := filepath.Join(tools, "node", "node_modules", "fauxqs")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, data string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(tools, "node", "fauxqs-loopback.mjs"), "", 0o644)
	write(filepath.Join(mod, "package.json"), `{"name":"fauxqs","version":"1.9.2"}`, 0o644)
	if _, _, _, err := fauxqsTools(tools); !errors.Is(err, errNoTools) || !strings.Contains(err.Error(), "node") {
		t.Errorf("without node: %v, want errNoTools", err)
	}
	write(filepath.Join(bin, "node"), "#!/bin/sh\n", 0o755)
	node, launcher, version, err := fauxqsTools(tools)
	if err != nil || node != filepath.Join(bin, "node") || launcher != filepath.Join(tools, "node", "fauxqs-loopback.mjs") || version != "fauxqs 1.9.2" {
		t.Errorf("fauxqsTools = %q %q %q %v", node, launcher, version, err)
	}
	write(filepath.Join(mod, "package.json"), `{"name":"fauxqs"}`, 0o644)
	if _, _, _, err := fauxqsTools(tools); err == nil || errors.Is(err, errNoTools) {
		t.Errorf("a package.json without a version: %v", err)
	}
}
