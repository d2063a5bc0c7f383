package imaging

// The few libvips settings bimg does not expose. bimg links libvips already;
// this only declares the two functions it needs.

/*
#cgo pkg-config: vips
#include <vips/vips.h>

static void s3thumb_drop_log(const gchar *domain, GLogLevelFlags level,
	const gchar *message, gpointer data) {
}

static void s3thumb_quiet_vips_warnings(void) {
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, s3thumb_drop_log, NULL);
}
*/
import "C"

// setVipsConcurrency sets the number of worker threads each libvips
// pipeline uses.
func setVipsConcurrency(n int) { C.vips_concurrency_set(C.int(n)) }

// vipsConcurrency returns the number of worker threads per pipeline.
func vipsConcurrency() int { return int(C.vips_concurrency_get()) }

// quietVipsWarnings drops libvips warnings, which otherwise go to stderr,
// unstructured, up to hundreds per damaged image. The checks that matter
// (truncation) are made before libvips sees the image.
func quietVipsWarnings() { C.s3thumb_quiet_vips_warnings() }
