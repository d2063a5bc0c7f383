// Package acceptformat chooses, from a request's Accept header, the format
// a thumbnail whose key names JPEG is answered in: AVIF or WebP when the
// client names it and the operator enabled it, else the JPEG the key names.
// The local front applies it behind --front-accept-formats; the CloudFront
// Function scripts/deploy/accept-format.js applies the same rule at the
// edge. Both are tested against one table of real clients' Accept headers,
// scripts/deploy/testdata/accept-format.json.
//
// The rule: a format is chosen only when the Accept header names its media
// type exactly (image/avif, image/webp) with a q above 0; wildcards
// (image/*, */*) never count, since curl and older browsers send them and
// decode neither. Of the enabled formats named, the one with the highest q
// wins, AVIF before WebP on a tie; JPEG stays when none is named, or when
// image/jpeg is named with a higher q.
package acceptformat

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Formats are the formats a JPEG thumbnail key may be answered in, most
// preferred first on an equal q (AVIF files are the smaller).
var Formats = []thumbkey.Format{thumbkey.AVIF, thumbkey.WebP}

// ParseEnabled parses a comma-separated list of the formats to offer,
// "webp,avif" (extensions, any case); "" enables none.
func ParseEnabled(s string) ([]thumbkey.Format, error) {
	return thumbkey.ParseList(s, func(ext string) (thumbkey.Format, error) {
		f, ok := thumbkey.FormatOf(ext)
		if !ok || !slices.Contains(Formats, f) {
			return "", fmt.Errorf("format %q: want webp or avif", ext)
		}
		return f, nil
	})
}

// Choose returns the format a response to accept is given in, among
// enabled: see the package's rule. It returns thumbkey.JPEG when none of
// enabled is chosen.
func Choose(accept string, enabled []thumbkey.Format) thumbkey.Format {
	best, bestQ := thumbkey.JPEG, quality(accept, thumbkey.JPEG)
	for _, f := range Formats {
		if !slices.Contains(enabled, f) {
			continue
		}
		if q := quality(accept, f); q > 0 && q >= bestQ && (best == thumbkey.JPEG || q > bestQ) {
			best, bestQ = f, q
		}
	}
	return best
}

// quality is the highest q that accept gives f's media type named exactly
// (0 when it is not named, or only with a malformed q).
func quality(accept string, f thumbkey.Format) float64 {
	want := f.ContentType()
	best := 0.0
	for item := range strings.SplitSeq(accept, ",") {
		mediaType, params, _ := strings.Cut(item, ";")
		if !strings.EqualFold(strings.TrimSpace(mediaType), want) {
			continue
		}
		q, ok := qValue(params)
		if ok && q > best {
			best = q
		}
	}
	return best
}

// qValue reads the q parameter of a media range's parameters ("q=0.8;
// level=1"): 1 when there is none; ok is false when it is not a qvalue as
// RFC 9110 writes them (0 to 1, at most three decimals).
func qValue(params string) (q float64, ok bool) {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		value = strings.TrimSpace(value)
		if !qvalueSyntax.MatchString(value) {
			return 0, false
		}
		q, err := strconv.ParseFloat(value, 64)
		return q, err == nil
	}
	return 1, true
}

// qvalueSyntax is RFC 9110's qvalue; accept-format.js uses the same
// expression.
var qvalueSyntax = regexp.MustCompile(`^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$`)

// Rewrite returns the key a request for key is answered with when the
// client sends accept: the same thumbnail in the chosen format when key is
// a thumbnail key naming JPEG (jpg or jpeg, any case) and Choose picks
// another, and ok true. Whether the object stored under key is an original
// named like a thumbnail, which must be served as it is, only the store can
// tell: the caller checks.
func Rewrite(key, accept string, enabled []thumbkey.Format) (thumbkey.Key, bool) {
	k, err := thumbkey.Parse(key)
	if err != nil || k.Format() != thumbkey.JPEG {
		return thumbkey.Key{}, false
	}
	f := Choose(accept, enabled)
	if f == thumbkey.JPEG {
		return thumbkey.Key{}, false
	}
	k.Ext = string(f) // "webp", "avif": the format's name is its extension
	return k, true
}
