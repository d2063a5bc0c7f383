package accesslog

import "errors"

// errBadEscape is returned by unescape for a '%' not followed by two hex digits.
var errBadEscape = errors.New("bad percent-escape")

// unhex returns the value of a hex digit and whether c is one.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape appends src with every %XX replaced by its byte to dst. A '+'
// stays a '+' (paths are not form-encoded). It fails on a '%' that is not
// followed by two hex digits.
func unescape(dst, src []byte) ([]byte, error) {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(src) {
			return dst, errBadEscape
		}
		hi, ok1 := unhex(src[i+1])
		lo, ok2 := unhex(src[i+2])
		if !ok1 || !ok2 {
			return dst, errBadEscape
		}
		dst = append(dst, hi<<4|lo)
		i += 2
	}
	return dst, nil
}

// unescapeInPlace decodes b into itself (the result is never longer).
func unescapeInPlace(b []byte) ([]byte, error) {
	return unescape(b[:0], b)
}

// keepRaw reports whether a key byte is written as itself: the unreserved
// characters of RFC 3986 and the path separator.
func keepRaw(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s percent-encoded times times (1 or 2) to dst: every
// byte but the unreserved ones and '/' becomes %XX, and encoding twice turns
// each of those '%' into "%25" again.
func appendEscaped(dst []byte, s string, times int) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepRaw(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%')
		if times > 1 {
			dst = append(dst, '2', '5')
		}
		dst = append(dst, upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// appendW3CEscaped appends s to dst the way CloudFront writes field values:
// bytes 0-32 and 127 and above, and the characters <>"#%{}|\^~[]`' become
// %XX. Everything else, including an existing "%20", passes as itself except
// for its '%'.
func appendW3CEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= 32 || c >= 127:
		case c == '<' || c == '>' || c == '"' || c == '#' || c == '%' || c == '{' || c == '}' ||
			c == '|' || c == '\\' || c == '^' || c == '~' || c == '[' || c == ']' || c == '`' || c == '\'':
		default:
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}
