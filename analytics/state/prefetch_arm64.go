//go:build !noprefetch

package state

// prefetch asks the processor to start loading the cache line of s without
// waiting for it (an instruction that cannot fault), so that a lookup
// reading s a little later finds it in the cache.
//
//go:noescape
func prefetch(s *keySlot)
