//go:build !unix

package store

import "io/fs"

// inode is 0 where the platform exposes none; sidecars are then matched by
// size and modification time alone.
func inode(fs.FileInfo) uint64 { return 0 }
