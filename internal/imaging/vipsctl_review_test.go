package imaging

import "testing"

// TestOperatorMallocThresholds: an operator's mmap or trim threshold, as
// a variable or a tunable, is kept; other malloc settings, such as the
// arena limit the README advises, spelt either way, leave ours on.
func TestOperatorMallocThresholds(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"MALLOC_ARENA_MAX": "2"}, false},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, false},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2"}, false},
		{map[string]string{"MALLOC_MMAP_THRESHOLD_": "131072"}, true},
		{map[string]string{"MALLOC_TRIM_THRESHOLD_": ""}, true},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}, true},
		{map[string]string{"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=0"}, true},
	} {
		lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		if got := operatorMallocThresholds(lookup); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.env, got, tt.want)
		}
	}
}
