package imaging

// The few libvips settings bimg does not expose, the count of libvips'
// warnings, and a decode that fails on them. bimg links libvips already.

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <vips/vips.h>

static gint64 s3thumb_warning_count = 0;
static gboolean s3thumb_print_warnings = FALSE;
static char **s3thumb_harmless = NULL;

// Every libvips warning but the harmless ones is counted, from whichever
// thread it comes; any is printed only when asked for (libvips prints
// hundreds per damaged image).
static void s3thumb_count_warning(const gchar *domain, GLogLevelFlags level,
	const gchar *message, gpointer data) {
	gboolean harmless = FALSE;
	for (char **h = s3thumb_harmless; h && *h && message; h++)
		if (strstr(message, *h)) {
			harmless = TRUE;
			break;
		}
	if (!harmless)
		__atomic_add_fetch(&s3thumb_warning_count, 1, __ATOMIC_RELAXED);
	if (s3thumb_print_warnings)
		g_log_default_handler(domain, level, message, data);
}

// harmless is a NULL-terminated list of substrings, kept for the process's
// life.
static void s3thumb_count_vips_warnings(gboolean print, char **harmless) {
	s3thumb_print_warnings = print;
	if (!s3thumb_harmless)
		s3thumb_harmless = harmless;
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, s3thumb_count_warning, NULL);
}

static gint64 s3thumb_warnings(void) {
	return __atomic_load_n(&s3thumb_warning_count, __ATOMIC_RELAXED);
}

// Decodes every pixel of the image in buf, failing at the decoder's first
// warning. Returns 0 when it decodes, else -1 and the error in *msg (to be
// freed with g_free).
static int s3thumb_decode_strict(const void *buf, size_t len, char **msg) {
	vips_error_clear();
	VipsImage *im = vips_image_new_from_buffer(buf, len, "",
		"fail_on", VIPS_FAIL_ON_WARNING, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	double avg;
	int r = -1;
	if (im) {
		r = vips_avg(im, &avg, NULL);
		g_object_unref(im);
	}
	if (r)
		*msg = vips_error_buffer_copy();
	return r;
}

*/
import "C"

import (
	"os"
	"strings"
	"sync"
	"unsafe"
)

// keepFreedMemory has glibc's malloc serve allocations of up to mmapMax
// bytes from its heaps and keep up to trimMax bytes freed at a heap's top
// for the next allocation, instead of its defaults: they hand a decoder's
// buffers of a few MB back to the kernel when freed (mmap, munmap), so
// every resize pays for zeroing fresh pages again. Measured on the
// benchmark's photographs (one client): 4-7% less CPU per thumbnail. At
// 8 clients keeping 32 MB saved as much CPU as keeping 128 MB, and peak
// RSS moved less than it does from run to run (314-365 MB, 323 without).
// An operator's own thresholds (MALLOC_MMAP_THRESHOLD_,
// MALLOC_TRIM_THRESHOLD_, or glibc.malloc.mmap_threshold or
// trim_threshold in GLIBC_TUNABLES) are left alone (see
// operatorMallocThresholds).
func keepFreedMemory(mmapMax, trimMax int) {
	if operatorMallocThresholds(os.LookupEnv) {
		return
	}
	C.mallopt(C.M_MMAP_THRESHOLD, C.int(mmapMax))
	C.mallopt(C.M_TRIM_THRESHOLD, C.int(trimMax))
}

// operatorMallocThresholds reports whether the environment sets glibc
// malloc's mmap or trim threshold, as a MALLOC_*_ variable or a tunable.
// Other malloc settings do not count: glibc.malloc.arena_max=2 in
// GLIBC_TUNABLES is MALLOC_ARENA_MAX=2 (the README's advice) spelt
// otherwise, and neither touches the thresholds.
func operatorMallocThresholds(lookup func(string) (string, bool)) bool {
	for _, v := range []string{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} {
		if _, ok := lookup(v); ok {
			return true
		}
	}
	tunables, _ := lookup("GLIBC_TUNABLES")
	for t := range strings.SplitSeq(tunables, ":") {
		name, _, _ := strings.Cut(t, "=")
		if name == "glibc.malloc.mmap_threshold" || name == "glibc.malloc.trim_threshold" {
			return true
		}
	}
	return false
}

// setVipsConcurrency sets the number of worker threads each libvips
// pipeline uses.
func setVipsConcurrency(n int) { C.vips_concurrency_set(C.int(n)) }

// vipsConcurrency returns the number of worker threads per pipeline.
func vipsConcurrency() int { return int(C.vips_concurrency_get()) }

// countVipsWarnings has libvips' warnings counted (see vipsWarnings), but
// for those containing one of harmless, and printed to stderr only when
// print is set: otherwise they are unstructured, up to hundreds per damaged
// image. The first call's harmless list holds for the process's life.
func countVipsWarnings(print bool, harmless []string) {
	p := C.gboolean(0)
	if print {
		p = 1
	}
	harmlessOnce.Do(func() {
		// A NULL-terminated array of C strings, never freed: libvips'
		// threads read it for as long as the process runs.
		list := (**C.char)(C.calloc(C.size_t(len(harmless)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		items := unsafe.Slice(list, len(harmless))
		for i, h := range harmless {
			items[i] = C.CString(h)
		}
		cHarmless = list
	})
	C.s3thumb_count_vips_warnings(p, cHarmless)
}

var (
	harmlessOnce sync.Once
	cHarmless    **C.char
)

// vipsWarnings is how many warnings libvips has given, in any thread, since
// countVipsWarnings.
func vipsWarnings() int64 { return int64(C.s3thumb_warnings()) }

// strictMu makes one strict decode at a time, so that libvips' error
// buffer, which every thread shares, holds mostly its messages.
var strictMu sync.Mutex

// decodeStrict decodes every pixel of data with libvips, stopping at the
// decoder's first warning. It reports whether the image decoded cleanly
// and, when not, the lines of libvips' error buffer: the decoder's message,
// and possibly another image's written at the same moment.
func decodeStrict(data []byte) (ok bool, msgs []string) {
	if len(data) == 0 {
		return false, []string{"empty"}
	}
	strictMu.Lock()
	defer strictMu.Unlock()
	var msg *C.char
	if C.s3thumb_decode_strict(unsafe.Pointer(&data[0]), C.size_t(len(data)), &msg) == 0 {
		return true, nil
	}
	if msg == nil {
		return false, nil
	}
	defer C.g_free(C.gpointer(msg))
	for line := range strings.Lines(C.GoString(msg)) {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			msgs = append(msgs, line)
		}
	}
	return false, msgs
}
