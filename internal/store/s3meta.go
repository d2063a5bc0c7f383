package store

import (
	"encoding/base64"
	"mime"
	"strings"
	"unicode/utf8"
)

// User metadata on S3 travels in HTTP headers (x-amz-meta-NAME), and AWS
// wants it US-ASCII: "Each name, value pair must conform to US-ASCII when
// using REST". A raw UTF-8 value is answered 403 SignatureDoesNotMatch, so
// a thumbnail recording an original named "Grüße aus Köln.jpg" could never
// be stored. S3's own form for other text is RFC 2047: it decodes
// encoded-words in a value before storing it, and returns a stored value
// that is not US-ASCII as "=?UTF-8?B?...?=" (S3 User Guide, Working with
// object metadata).
//
// So the S3 store is the one home of the rule: Put sends a value that is
// not printable US-ASCII as UTF-8 "B" encoded-words (encodeMetaValue), and
// Get and Head decode encoded-words in the values they read
// (decodeMetaValue). Whether the server decodes them (AWS) or keeps them as
// sent (versitygw, MinIO), a value reads back as it was written; the file
// store keeps values as they are. Callers pass and read plain UTF-8 and
// never see the encoding. Names are not encoded: s3thumb's are ASCII.

// metaWordBytes is how many bytes of a value one encoded-word carries: 45
// bytes are 60 base64 characters, and "=?UTF-8?B?" + 60 + "?=" is 72, within
// RFC 2047's 75.
const metaWordBytes = 45

// encodeMetaValue returns v as it may travel in an S3 metadata header.
// A value of printable US-ASCII is sent as it is, unless a server would read
// it differently: one that holds "=?" (S3 would decode what looks like an
// encoded-word) or starts or ends with white space (which HTTP drops) is
// encoded too.
func encodeMetaValue(v string) string {
	if !metaNeedsEncoding(v) {
		return v
	}
	var b strings.Builder
	for len(v) > 0 {
		n := min(len(v), metaWordBytes)
		// Cut between characters, so that each word is valid UTF-8 on its
		// own; a value that is not UTF-8 is cut anywhere.
		for cut := n; cut > 0 && cut < len(v); cut-- {
			if utf8.RuneStart(v[cut]) {
				n = cut
				break
			}
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?UTF-8?B?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(v[:n])))
		b.WriteString("?=")
		v = v[n:]
	}
	return b.String()
}

func metaNeedsEncoding(v string) bool {
	if strings.Contains(v, "=?") || strings.Trim(v, " \t") != v {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c > '~' {
			return true
		}
	}
	return false
}

// decodeMetaValue reads back a value of an S3 metadata header: its
// encoded-words decoded (white space between adjacent words dropped, as
// RFC 2047 says); a value without any, or in a character set the decoder
// does not know, as it is.
func decodeMetaValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// encodeMetadata is m as Put sends it; nil for none.
func encodeMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = encodeMetaValue(v)
	}
	return out
}

// metadata reads back user metadata, decoded: nil for none.
func metadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = decodeMetaValue(v)
	}
	return out
}
