package imaging

// The few libvips settings bimg does not expose, the count of libvips'
// warnings, and a decode that fails on them. bimg links libvips already.

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>

static gint64 s3thumb_warning_count = 0;
static gboolean s3thumb_print_warnings = FALSE;

// Every libvips warning is counted, from whichever thread it comes; it is
// printed only when asked for (libvips prints hundreds per damaged image).
static void s3thumb_count_warning(const gchar *domain, GLogLevelFlags level,
	const gchar *message, gpointer data) {
	__atomic_add_fetch(&s3thumb_warning_count, 1, __ATOMIC_RELAXED);
	if (s3thumb_print_warnings)
		g_log_default_handler(domain, level, message, data);
}

static void s3thumb_count_vips_warnings(gboolean print) {
	s3thumb_print_warnings = print;
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
	"strings"
	"sync"
	"unsafe"
)

// setVipsConcurrency sets the number of worker threads each libvips
// pipeline uses.
func setVipsConcurrency(n int) { C.vips_concurrency_set(C.int(n)) }

// vipsConcurrency returns the number of worker threads per pipeline.
func vipsConcurrency() int { return int(C.vips_concurrency_get()) }

// countVipsWarnings has libvips' warnings counted (see vipsWarnings) and
// printed to stderr only when print is set: otherwise they are
// unstructured, up to hundreds per damaged image.
func countVipsWarnings(print bool) {
	p := C.gboolean(0)
	if print {
		p = 1
	}
	C.s3thumb_count_vips_warnings(p)
}

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
