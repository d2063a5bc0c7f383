//go:build !unix

package store

import "os"

// lockFile does nothing where advisory locks are not to be had: conditional
// writes are then serialised within one process only.
func lockFile(*os.File) error { return nil }
