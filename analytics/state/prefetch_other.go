//go:build (!amd64 && !arm64) || noprefetch

package state

// prefetch would ask the processor to start loading the cache line of s; on
// this architecture it does nothing.
func prefetch(s *keySlot) {}
