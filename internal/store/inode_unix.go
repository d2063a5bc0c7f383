//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// inode identifies the file fi describes within its file system.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // Ino is not a uint64 on every platform
	}
	return 0
}
