package imaging

// The one-pass libvips pipeline that makes a thumbnail: load (shrinking on
// load, read sequentially), flatten, shrink, reduce, crop, colour, turn,
// save, in one call. It replaces bimg.Resize, which costs more than the
// work: it loads every image for random access (decoded whole into memory
// before the first resize step), parses each JPEG header twice, and an
// oriented original took two calls with an uncompressed TIFF between them
// (a transparent one for a JPEG, a third). The steps and their arithmetic
// are bimg's (see planResize), so the pixels are the same.

/*
#cgo pkg-config: vips
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <vips/vips.h>

enum { S3T_JPEG, S3T_PNG, S3T_WEBP, S3T_GIF, S3T_HEIF };

typedef struct {
	int in_format;     // S3T_*: the loader (checked in Go from the magic bytes)
	int load_shrink;   // 1, 2, 4 or 8: JPEG's and WebP's shrink-on-load
	int flatten_first; // flatten onto bg and convert colour before resizing
	double bg[3];      // background of every flattening, 0-255
	int box_shrink;    // integer block shrink after the load (1: none)
	int width, height; // the resized size, as stored
	int bicubic;       // interpolator when a side is enlarged (else bilinear)
	int crop_w, crop_h, crop_left, crop_top; // crop_w 0: no crop
	int interesting;   // VIPS_INTERESTING_NONE: crop at left/top; else vips_smartcrop
	int angle;         // clockwise turn after resizing: 0, 90, 180, 270
	int flip;          // then mirror left to right
	int flatten_last;  // flatten onto bg before saving (JPEG output)
	int icc;           // convert an embedded RGB profile to sRGB
	int out_format;    // S3T_JPEG, S3T_PNG, S3T_WEBP or S3T_HEIF (AVIF)
	int quality;
	int effort;        // AVIF encoder effort, 0-9
	int libvips_reduce; // reduce with libvips' own vips_reduce (tests: the same pixels)
} s3t_plan;

// The alpha test bimg makes (has_alpha_channel), so that exactly the same
// images are flattened.
static int s3t_has_alpha(VipsImage *im) {
	return (im->Bands == 2 && im->Type == VIPS_INTERPRETATION_B_W) ||
		(im->Bands == 4 && im->Type != VIPS_INTERPRETATION_CMYK) ||
		(im->Bands == 5 && im->Type == VIPS_INTERPRETATION_CMYK);
}

// As bimg flattens: 16-bit images on a background and alpha scaled to 16
// bits, all others at 8 bits.
static int s3t_flatten(VipsImage *in, VipsImage **out, const double *bg) {
	int wide = in->Type == VIPS_INTERPRETATION_RGB16 || in->Type == VIPS_INTERPRETATION_GREY16;
	double scale = wide ? 65535.0 / 255 : 1;
	double b[3] = {bg[0] * scale, bg[1] * scale, bg[2] * scale};
	VipsArrayDouble *arr = vips_array_double_new(b, 3);
	int r = vips_flatten(in, out, "background", arr, "max_alpha", wide ? 65535.0 : 255.0, NULL);
	vips_area_unref(VIPS_AREA(arr));
	return r;
}

static guint32 s3t_be32(const unsigned char *p) {
	return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

// Whether an ICC profile is sRGB: an RGB display profile whose red, green
// and blue colorants (rXYZ, gXYZ, bXYZ) are sRGB's, as every sRGB profile
// states them (adapted to D50), within 0.002. Converting from such a
// profile to sRGB changes no pixel by more than lcms' rounding, and
// building the transform costs more than the rest of a small thumbnail's
// pipeline after decoding (about 5 ms).
static int s3t_is_srgb(const unsigned char *p, size_t len) {
	static const char *tags[3] = {"rXYZ", "gXYZ", "bXYZ"};
	static const double want[3][3] = {
		{0.4361, 0.2225, 0.0139}, {0.3851, 0.7169, 0.0971}, {0.1431, 0.0606, 0.7141}};
	if (len < 132 || memcmp(p + 16, "RGB ", 4) || memcmp(p + 36, "acsp", 4))
		return 0;
	guint32 n = s3t_be32(p + 128);
	if (n > (len - 132) / 12)
		return 0;
	int found = 0;
	for (guint32 k = 0; k < n; k++) {
		const unsigned char *e = p + 132 + 12 * k;
		for (int c = 0; c < 3; c++) {
			if (memcmp(e, tags[c], 4))
				continue;
			guint32 off = s3t_be32(e + 4), size = s3t_be32(e + 8);
			if (size < 20 || off > len || size > len - off || memcmp(p + off, "XYZ ", 4))
				return 0;
			for (int j = 0; j < 3; j++) {
				double v = (gint32) s3t_be32(p + off + 8 + 4 * j) / 65536.0;
				if (v < want[c][j] - 0.002 || v > want[c][j] + 0.002)
					return 0;
			}
			found |= 1 << c;
		}
	}
	return found == 7;
}

// To sRGB: libvips' colourspace step (CMYK and grey through their embedded
// profile), then an RGB image's embedded profile, unless it is sRGB's, to
// sRGB.
static int s3t_colour(VipsImage **t, int *i, VipsImage **im, int icc) {
	if (vips_colourspace_issupported(*im)) {
		if (vips_colourspace(*im, &t[*i], VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		*im = t[(*i)++];
	}
	const void *prof;
	size_t plen;
	if (icc && vips_image_get_typeof(*im, VIPS_META_ICC_NAME) &&
		!vips_image_get_blob(*im, VIPS_META_ICC_NAME, &prof, &plen) && s3t_is_srgb(prof, plen))
		icc = 0;
	if (icc && vips_image_get_typeof(*im, VIPS_META_ICC_NAME)) {
		if (vips_icc_transform(*im, &t[*i], "srgb", "embedded", TRUE, NULL))
			return -1;
		*im = t[(*i)++];
	}
	return 0;
}

// libvips' Lanczos 3 reduce (vips_reducev then vips_reduceh, libvips 8.14)
// for 8-bit images: the same arithmetic as its C paths, so the same pixels
// byte for byte (TestReducehSamePixels). Across, the inner loop reads all of a
// pixel's bands at each tap instead of one band at a time. libvips' loop
// is a chain of dependent multiply-adds strided over the pixels, a fifth
// of the CPU of a 1024-wide thumbnail; this one keeps up to four
// independent sums: a 1024-wide thumbnail of a 2560x1600 photograph took
// 26.1 instead of 28.8 ms. (Two taps at a time in SSE2 was no faster.)
#define S3T_MAX_POINT 64

// No fused multiply-adds, which CGO_CFLAGS such as -march=native would
// allow on a CPU with FMA: X and the coefficients must round as in
// libvips, built for plain x86-64, or pixels differ.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("O3", "fp-contract=off")
#endif

static gint64 s3t_own_reduces = 0; // reduces made here, not by libvips
static gint64 s3t_own_reduce_count(void) { return __atomic_load_n(&s3t_own_reduces, __ATOMIC_RELAXED); }

// What a reduce along one axis needs: the factor, the offset of its first
// output pixel, the mask size and the masks of the 65 sub-pixel positions.
typedef struct {
	double shrink, offset;
	int n_point;
	int matrix[VIPS_TRANSFORM_SCALE + 1][S3T_MAX_POINT];
} s3t_reduce_state;

// calculate_coefficients_lanczos of libvips' resample/templates.h, a = 3.
static void s3t_lanczos3(double *c, double shrink, double x) {
	const int n_points = 2 * rint(3 * shrink) + 1;
	const double half = x + n_points / 2.0 - 1;
	double sum = 0;
	for (int i = 0; i < n_points; i++) {
		const double xp = (i - half) / shrink;
		double l;
		if (xp == 0.0)
			l = 1.0;
		else if (xp < -3)
			l = 0.0;
		else if (xp > 3)
			l = 0.0;
		else
			l = (double) 3 * sin(VIPS_PI * xp) * sin(VIPS_PI * xp / (double) 3) / (VIPS_PI * VIPS_PI * xp * xp);
		c[i] = l;
		sum += l;
	}
	for (int i = 0; i < n_points; i++)
		c[i] /= sum;
}

static inline unsigned char s3t_fixed(int sum) {
	sum = (sum + (VIPS_INTERPOLATE_SCALE >> 1)) >> VIPS_INTERPOLATE_SHIFT;
	return (unsigned char) VIPS_CLIP(0, sum, UCHAR_MAX);
}

static int s3t_reduceh_gen(VipsRegion *out_region, void *seq, void *a, void *b, gboolean *stop) {
	VipsImage *in = (VipsImage *) a;
	const s3t_reduce_state *st = (const s3t_reduce_state *) b;
	VipsRegion *ir = (VipsRegion *) seq;
	const VipsRect *r = &out_region->valid;
	const int bands = in->Bands;
	const int n = st->n_point;
	VipsRect s;
	s.left = r->left * st->shrink - st->offset;
	s.top = r->top;
	s.width = r->width * st->shrink + n;
	s.height = r->height;
	if (vips_region_prepare(ir, &s))
		return -1;
	for (int y = 0; y < r->height; y++) {
		VipsPel *q = VIPS_REGION_ADDR(out_region, r->left, r->top + y);
		double X = (r->left + 0.5) * st->shrink - 0.5 - st->offset;
		const VipsPel *p0 = VIPS_REGION_ADDR(ir, ir->valid.left, r->top + y) - ir->valid.left * bands;
		for (int x = 0; x < r->width; x++) {
			const int ix = (int) X;
			const VipsPel *p = p0 + ix * bands;
			const int sx = X * VIPS_TRANSFORM_SCALE * 2;
			const int six = sx & (VIPS_TRANSFORM_SCALE * 2 - 1);
			const int *c = st->matrix[(six + 1) >> 1];
			switch (bands) {
			case 3: {
				int s0 = 0, s1 = 0, s2 = 0;
				for (int i = 0; i < n; i++, p += 3) {
					s0 += c[i] * p[0];
					s1 += c[i] * p[1];
					s2 += c[i] * p[2];
				}
				q[0] = s3t_fixed(s0), q[1] = s3t_fixed(s1), q[2] = s3t_fixed(s2);
				break;
			}
			case 4: {
				int s0 = 0, s1 = 0, s2 = 0, s3 = 0;
				for (int i = 0; i < n; i++, p += 4) {
					s0 += c[i] * p[0];
					s1 += c[i] * p[1];
					s2 += c[i] * p[2];
					s3 += c[i] * p[3];
				}
				q[0] = s3t_fixed(s0), q[1] = s3t_fixed(s1), q[2] = s3t_fixed(s2), q[3] = s3t_fixed(s3);
				break;
			}
			default:
				for (int z = 0; z < bands; z++) {
					int sum = 0;
					for (int i = 0; i < n; i++)
						sum += c[i] * p[z + i * bands];
					q[z] = s3t_fixed(sum);
				}
			}
			X += st->shrink;
			q += bands;
		}
	}
	return 0;
}

// The vertical half (vips_reducev's C path): each output line is the sum
// of n input lines times the taps, accumulated a whole line at a time, so
// the compiler can vectorise it, where libvips sums each byte's taps down
// a column.
static int s3t_reducev_gen(VipsRegion *out_region, void *seq, void *a, void *b, gboolean *stop) {
	VipsImage *in = (VipsImage *) a;
	const s3t_reduce_state *st = (const s3t_reduce_state *) b;
	VipsRegion *ir = (VipsRegion *) seq;
	const VipsRect *r = &out_region->valid;
	const int ne = r->width * in->Bands;
	const int n = st->n_point;
	VipsRect s;
	s.left = r->left;
	s.top = r->top * st->shrink - st->offset;
	s.width = r->width;
	s.height = r->height * st->shrink + n;
	if (vips_region_prepare(ir, &s))
		return -1;
	int *acc = g_new(int, ne);
	const int lskip = VIPS_REGION_LSKIP(ir);
	double Y = (r->top + 0.5) * st->shrink - 0.5 - st->offset;
	for (int y = 0; y < r->height; y++) {
		VipsPel *q = VIPS_REGION_ADDR(out_region, r->left, r->top + y);
		const VipsPel *p = VIPS_REGION_ADDR(ir, r->left, (int) Y);
		const int sy = Y * VIPS_TRANSFORM_SCALE * 2;
		const int siy = sy & (VIPS_TRANSFORM_SCALE * 2 - 1);
		const int *c = st->matrix[(siy + 1) >> 1];
		for (int x = 0; x < ne; x++)
			acc[x] = 0;
		int i = 0;
#ifdef __SSE2__
		// Two lines at a time: their bytes as 16-bit pairs, times the two
		// taps, added in pairs into 32-bit sums (pmaddwd), 8 bytes a step.
		// The taps fit 16 bits (at most VIPS_INTERPOLATE_SCALE).
		const __m128i zero = _mm_setzero_si128();
		for (; i + 1 < n; i += 2) {
			const VipsPel *p0 = p + i * lskip, *p1 = p0 + lskip;
			const __m128i cc = _mm_set1_epi32((int) ((unsigned) c[i + 1] << 16 | ((unsigned) c[i] & 0xFFFF)));
			int x = 0;
			for (; x + 8 <= ne; x += 8) {
				const __m128i a = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (p0 + x)), zero);
				const __m128i b = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (p1 + x)), zero);
				__m128i *s = (__m128i *) (acc + x);
				_mm_storeu_si128(s, _mm_add_epi32(_mm_loadu_si128(s), _mm_madd_epi16(_mm_unpacklo_epi16(a, b), cc)));
				_mm_storeu_si128(s + 1, _mm_add_epi32(_mm_loadu_si128(s + 1), _mm_madd_epi16(_mm_unpackhi_epi16(a, b), cc)));
			}
			for (; x < ne; x++)
				acc[x] += c[i] * p0[x] + c[i + 1] * p1[x];
		}
#endif
		for (; i < n; i++) {
			const VipsPel *pi = p + i * lskip;
			const int ci = c[i];
			for (int x = 0; x < ne; x++)
				acc[x] += ci * pi[x];
		}
		for (int x = 0; x < ne; x++)
			q[x] = s3t_fixed(acc[x]);
		Y += st->shrink;
	}
	g_free(acc);
	return 0;
}

// s3t_reduce reduces in by shrink along one axis (vertical: down) as
// vips_reduceh and vips_reducev do with their defaults (Lanczos 3, no
// gap), with the loops above for 8-bit images; any other goes to libvips.
// libvips' own reducev compiles an ORC program for every image, and ORC's
// code allocator crashed the process now and then under concurrent
// resizes (imgproxy's too): with this, no ORC code runs at all (New turns
// libvips' vector paths off).
static int s3t_reduce(VipsImage *in, VipsImage **out, double shrink, int vertical) {
	const int in_size = vertical ? in->Ysize : in->Xsize;
	const int size = VIPS_ROUND_UINT((double) in_size / shrink);
	const int n_point = 2 * rint(3 * shrink) + 1;
	if (in->BandFmt != VIPS_FORMAT_UCHAR || in->Coding != VIPS_CODING_NONE || shrink <= 1.0 ||
		n_point > S3T_MAX_POINT || size <= 0)
		return vertical ? vips_reducev(in, out, shrink, NULL) : vips_reduceh(in, out, shrink, NULL);
	__atomic_add_fetch(&s3t_own_reduces, 1, __ATOMIC_RELAXED);
	s3t_reduce_state *st = g_new0(s3t_reduce_state, 1);
	st->shrink = shrink;
	st->n_point = n_point;
	// Pixels invented (or dropped) at the edges, half on each side.
	const double extra_pixels = size * shrink - in_size;
	st->offset = (1 + extra_pixels) / 2.0 - 1;
	double c[S3T_MAX_POINT];
	for (int x = 0; x < VIPS_TRANSFORM_SCALE + 1; x++) {
		s3t_lanczos3(c, shrink, (float) x / VIPS_TRANSFORM_SCALE);
		for (int i = 0; i < n_point; i++)
			st->matrix[x][i] = c[i] * VIPS_INTERPOLATE_SCALE;
	}
	const int margin = VIPS_CEIL(n_point / 2.0) - 1;
	VipsImage *embedded;
	if (vertical ? vips_embed(in, &embedded, 0, margin, in->Xsize, in->Ysize + n_point, "extend", VIPS_EXTEND_COPY, NULL)
		     : vips_embed(in, &embedded, margin, 0, in->Xsize + n_point, in->Ysize, "extend", VIPS_EXTEND_COPY, NULL)) {
		g_free(st);
		return -1;
	}
	VipsImage *reduced = vips_image_new();
	// The output holds the state and the embedded input until it closes.
	g_signal_connect_swapped(reduced, "close", G_CALLBACK(g_free), st);
	vips_object_local(reduced, embedded);
	if (vips_image_pipelinev(reduced, VIPS_DEMAND_STYLE_THINSTRIP, embedded, NULL)) {
		g_object_unref(reduced);
		return -1;
	}
	if (vertical)
		reduced->Ysize = size;
	else
		reduced->Xsize = size;
	if (vips_image_generate(reduced, vips_start_one, vertical ? s3t_reducev_gen : s3t_reduceh_gen, vips_stop_one,
		embedded, st)) {
		g_object_unref(reduced);
		return -1;
	}
	vips_reorder_margin_hint(reduced, n_point);
	// As vips_reducev: a line cache after a vertical reduce of a
	// sequential image, so that a stalled thread's lines are still there.
	if (vertical && vips_image_get_typeof(in, VIPS_META_SEQUENTIAL)) {
		int r = vips_sequential(reduced, out, "tile_height", 10, NULL);
		g_object_unref(reduced);
		return r;
	}
	*out = reduced;
	return 0;
}
#if !defined(__clang__) && defined(__GNUC__)
#pragma GCC pop_options
#endif

static int s3t_load(const void *buf, size_t len, const s3t_plan *p, VipsImage **out) {
	// Sequential: the pixels stream through the pipeline a strip at a time
	// instead of being decoded whole into memory first.
	VipsAccess seq = VIPS_ACCESS_SEQUENTIAL;
	switch (p->in_format) {
	case S3T_JPEG:
		return vips_jpegload_buffer((void *) buf, len, out, "access", seq, "shrink", p->load_shrink, NULL);
	case S3T_WEBP:
		return vips_webpload_buffer((void *) buf, len, out, "access", seq, "scale", 1.0 / p->load_shrink, NULL);
	case S3T_PNG:
		return vips_pngload_buffer((void *) buf, len, out, "access", seq, NULL);
	case S3T_GIF:
		return vips_gifload_buffer((void *) buf, len, out, "access", seq, NULL);
	case S3T_HEIF:
		return vips_heifload_buffer((void *) buf, len, out, "access", seq, NULL);
	}
	vips_error("s3thumb", "unknown input format %d", p->in_format);
	return -1;
}

static int s3t_save(VipsImage *im, const s3t_plan *p, void **out, size_t *outlen) {
	switch (p->out_format) {
	case S3T_JPEG:
		return vips_jpegsave_buffer(im, out, outlen, "strip", TRUE, "Q", p->quality,
			"optimize_coding", TRUE, "interlace", FALSE, NULL);
	case S3T_PNG:
		return vips_pngsave_buffer(im, out, outlen, "strip", TRUE, "compression", 6,
			"interlace", FALSE, "filter", VIPS_FOREIGN_PNG_FILTER_ALL, "palette", FALSE,
			"Q", p->quality, "effort", 10, NULL);
	case S3T_WEBP:
		return vips_webpsave_buffer(im, out, outlen, "strip", TRUE, "Q", p->quality,
			"lossless", FALSE, NULL);
	case S3T_HEIF:
		return vips_heifsave_buffer(im, out, outlen, "strip", TRUE, "Q", p->quality,
			"lossless", FALSE, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort", p->effort, NULL);
	}
	vips_error("s3thumb", "unknown output format %d", p->out_format);
	return -1;
}

static int s3t_pipeline(const void *buf, size_t len, const s3t_plan *p, VipsObject *base,
	void **out, size_t *outlen) {
	VipsImage **t = (VipsImage **) vips_object_local_array(base, 24);
	int i = 0;
	VipsImage *im;
	if (s3t_load(buf, len, p, &t[i]))
		return -1;
	im = t[i++];
	if (p->flatten_first) {
		// A JPEG of an image with transparency: flattened whole before
		// resizing, which does not premultiply alpha (the colour of
		// transparent pixels would bleed into the edges), then in sRGB.
		if (s3t_has_alpha(im)) {
			if (s3t_flatten(im, &t[i], p->bg))
				return -1;
			im = t[i++];
		}
		if (s3t_colour(t, &i, &im, p->icc))
			return -1;
	}
	if (p->box_shrink > 1) {
		// Each side by at most its own size: a thin image keeps a pixel
		// on its short side (the reduce after brings both to the box).
		if (vips_shrink(im, &t[i], VIPS_MIN(p->box_shrink, im->Xsize), VIPS_MIN(p->box_shrink, im->Ysize), NULL))
			return -1;
		im = t[i++];
	}
	double rx = (double) p->width / im->Xsize, ry = (double) p->height / im->Ysize;
	if (rx < 1 && ry < 1) {
		// vips_reduce is vips_reducev, then vips_reduceh.
		if (p->libvips_reduce) {
			if (vips_reduce(im, &t[i], 1.0 / rx, 1.0 / ry, NULL))
				return -1;
			im = t[i++];
		} else {
			if (s3t_reduce(im, &t[i], 1.0 / ry, 1))
				return -1;
			im = t[i++];
			if (s3t_reduce(im, &t[i], 1.0 / rx, 0))
				return -1;
			im = t[i++];
		}
	} else {
		// Enlarging (or a side off by a rounding): the affine transform
		// reads its input out of order, so the small image is made first.
		if (!(t[i] = vips_image_copy_memory(im)))
			return -1;
		im = t[i++];
		VipsInterpolate *interp = vips_interpolate_new(p->bicubic ? "bicubic" : "bilinear");
		int r = vips_affine(im, &t[i], rx, 0, 0, ry, "interpolate", interp,
			"extend", VIPS_EXTEND_BLACK, NULL);
		g_object_unref(interp);
		if (r)
			return -1;
		im = t[i++];
	}
	if (p->crop_w > 0) {
		if (p->interesting == VIPS_INTERESTING_NONE || p->interesting == VIPS_INTERESTING_CENTRE) {
			if (vips_extract_area(im, &t[i], p->crop_left, p->crop_top, p->crop_w, p->crop_h, NULL))
				return -1;
		} else {
			// A smart crop reads its input more than once.
			if (!(t[i] = vips_image_copy_memory(im)))
				return -1;
			im = t[i++];
			if (vips_smartcrop(im, &t[i], p->crop_w, p->crop_h, "interesting", p->interesting, NULL))
				return -1;
		}
		im = t[i++];
	}
	if (p->flatten_last && s3t_has_alpha(im)) {
		if (s3t_flatten(im, &t[i], p->bg))
			return -1;
		im = t[i++];
	}
	if (s3t_colour(t, &i, &im, p->icc && !p->flatten_first))
		return -1;
	if (p->angle || p->flip) {
		// Turned after resizing, on the small image: a rotation reads its
		// input in columns, which a sequential load cannot give, so the
		// thumbnail is made in memory first (what vips_thumbnail does).
		if (!(t[i] = vips_image_copy_memory(im)))
			return -1;
		im = t[i++];
		if (p->angle) {
			VipsAngle a = p->angle == 90 ? VIPS_ANGLE_D90 : p->angle == 180 ? VIPS_ANGLE_D180 : VIPS_ANGLE_D270;
			if (vips_rot(im, &t[i], a, NULL))
				return -1;
			im = t[i++];
		}
		if (p->flip) {
			if (vips_flip(im, &t[i], VIPS_DIRECTION_HORIZONTAL, NULL))
				return -1;
			im = t[i++];
		}
	}
	return s3t_save(im, p, out, outlen);
}

// Makes the thumbnail in *out (g_free it). On failure returns -1 and
// libvips' message in *msg (g_free it).
static int s3t_render(const void *buf, size_t len, const s3t_plan *p,
	void **out, size_t *outlen, char **msg) {
	VipsObject *base = VIPS_OBJECT(vips_image_new());
	*out = NULL;
	*msg = NULL;
	int r = s3t_pipeline(buf, len, p, base, out, outlen);
	g_object_unref(base);
	if (r) {
		*msg = vips_error_buffer_copy();
		if (*out) {
			g_free(*out);
			*out = NULL;
		}
	}
	// Frees this thread's libvips buffers, as bimg does after each call: Go
	// runs calls on any of its threads.
	vips_thread_shutdown();
	return r;
}
*/
import "C"

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// pipeline is what one libvips pass does; see s3t_plan.
type pipeline struct {
	in                    Format
	loadShrink, boxShrink int
	flattenFirst          bool
	background            RGB
	width, height         int // resized, as stored
	bicubic               bool
	cropW, cropH          int // 0: no crop
	cropLeft, cropTop     int
	interesting           int // C.VIPS_INTERESTING_*; none/centre: at cropLeft/cropTop
	angle                 int // clockwise, after resizing
	flip                  bool
	flattenLast           bool
	icc                   bool
	out                   Format
	quality, avifEffort   int
	// libvipsReduce reduces with libvips' vips_reduce rather than ours
	// (s3t_reduce): for tests.
	libvipsReduce bool
}

// planResize computes the shrink-on-load and block-shrink factors of
// resizing an inW×inH image (as stored) to w×h, as bimg did (Force, no
// crop): the whole factor is the larger of the two sides', the block
// shrink its integer part (three quarters of it for bicubic enlarging,
// which never shrinks in practice), and JPEG and WebP take the largest
// power of two of that, up to 8, on load; what is left of the factor after
// the load is block-shrunk and the rest reduced (Lanczos 3) side by side.
// canShrinkOnLoad is false for the formats that cannot, and for an image
// that is flattened whole before it is resized.
func planResize(inW, inH, w, h int, canShrinkOnLoad bool) (loadShrink, boxShrink int, bicubic bool) {
	bicubic = w > inW
	factor := math.Max(float64(inW)/float64(w), float64(inH)/float64(h))
	shrink := math.Floor(factor)
	if factor >= 2 && bicubic {
		shrink = math.Floor(factor * 3.0 / 4) // bicubic's 4×4 window: shrink less
	}
	boxShrink = max(int(shrink), 1)
	loadShrink = 1
	if canShrinkOnLoad && boxShrink >= 2 {
		switch {
		case boxShrink >= 8:
			loadShrink = 8
		case boxShrink >= 4:
			loadShrink = 4
		default:
			loadShrink = 2
		}
		// Never below a pixel on the short side: libvips' JPEG loader
		// aborts the process on a side shrunk to nothing (a 4000x1 strip
		// shrunk by 8), and WebP's refuses it.
		for loadShrink > 1 && min(inW, inH) < loadShrink {
			loadShrink /= 2
		}
		boxShrink = max(int(math.Floor(math.Max(factor/float64(loadShrink), 1))), 1)
	}
	return loadShrink, boxShrink, bicubic
}

// cFormat is the s3t_plan code of a format.
func cFormat(f Format) (C.int, bool) {
	switch f {
	case JPEG:
		return C.S3T_JPEG, true
	case PNG:
		return C.S3T_PNG, true
	case WebP:
		return C.S3T_WEBP, true
	case GIF:
		return C.S3T_GIF, true
	case HEIF, AVIF:
		return C.S3T_HEIF, true
	}
	return 0, false
}

// run makes the thumbnail. libvips fails on corrupt pixel data; the header
// has been checked, so an error here means the image's data is bad.
func (p pipeline) run(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrUnsupportedImage)
	}
	in, ok := cFormat(p.in)
	out, ok2 := cFormat(p.out)
	if !ok || !ok2 || p.out == GIF || p.out == HEIF {
		return nil, fmt.Errorf("pipeline from %s to %s: not a format pair of ours", p.in, p.out)
	}
	b := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	plan := C.s3t_plan{
		in_format:     in,
		load_shrink:   C.int(p.loadShrink),
		flatten_first: b(p.flattenFirst),
		bg:            [3]C.double{C.double(p.background.R), C.double(p.background.G), C.double(p.background.B)},
		box_shrink:    C.int(p.boxShrink),
		width:         C.int(p.width),
		height:        C.int(p.height),
		bicubic:       b(p.bicubic),
		crop_w:        C.int(p.cropW),
		crop_h:        C.int(p.cropH),
		crop_left:     C.int(p.cropLeft),
		crop_top:      C.int(p.cropTop),
		interesting:   C.int(p.interesting),
		angle:         C.int(p.angle),
		flip:          b(p.flip),
		flatten_last:  b(p.flattenLast),
		icc:           b(p.icc),
		out_format:    out,
		quality:       C.int(p.quality),
		effort:        C.int(p.avifEffort),

		libvips_reduce: b(p.libvipsReduce),
	}
	// libvips reads the Go bytes during the call only (the pipeline is
	// built, run and freed inside it), which cgo's pointer rules allow.
	var buf unsafe.Pointer
	var n C.size_t
	var msg *C.char
	if C.s3t_render(unsafe.Pointer(&data[0]), C.size_t(len(data)), &plan, &buf, &n, &msg) != 0 {
		text := "failed"
		if msg != nil {
			text = strings.Join(strings.Fields(C.GoString(msg)), " ")
			C.g_free(C.gpointer(msg))
		}
		return nil, fmt.Errorf("%w: libvips: %s", ErrUnsupportedImage, text)
	}
	defer C.g_free(C.gpointer(buf))
	if n == 0 {
		return nil, fmt.Errorf("%w: libvips wrote nothing", ErrUnsupportedImage)
	}
	return C.GoBytes(buf, C.int(n)), nil
}

// ownReduces counts the reduces along one axis made by s3t_reduce rather
// than by libvips.
func ownReduces() int64 { return int64(C.s3t_own_reduce_count()) }

// interestingNone crops at the given place (pipeline.cropLeft, cropTop);
// the other VIPS_INTERESTING_* values have libvips choose the place.
const interestingNone = int(C.VIPS_INTERESTING_NONE)

// interestingFor is the VIPS_INTERESTING_* value of a focus.
func interestingFor(f Focus) int {
	switch f {
	case Attention:
		return int(C.VIPS_INTERESTING_ATTENTION)
	case Entropy:
		return int(C.VIPS_INTERESTING_ENTROPY)
	}
	return interestingNone
}

// isSRGBProfile reports whether the ICC profile p is sRGB (see
// s3t_is_srgb): its images are not converted.
func isSRGBProfile(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	return C.s3t_is_srgb((*C.uchar)(unsafe.Pointer(&p[0])), C.size_t(len(p))) != 0
}
