package accesslog

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// S3 server access log eras: the number of fields a record had when AWS last
// added some. Records of every era are read, and so are records with fields
// added after the newest one known here (they are counted, not kept).
const (
	S3FieldsMin         = 18 // up to Version Id: the oldest records
	S3FieldsTLS         = 24 // + Host Id, Signature Version, Cipher Suite, Authentication Type, Host Header, TLS version
	S3FieldsAccessPoint = 25 // + Access Point ARN
	S3FieldsACL         = 26 // + aclRequired
	S3FieldsLatest      = 27 // + Source region
)

// ParseS3Line parses one S3 server access log record with a Parser of its
// own. Use a Parser to parse many.
func ParseS3Line(line []byte, rec *Record) error {
	var p Parser
	return p.ParseS3(line, rec)
}

// s3Scanner walks the fields of an S3 record.
type s3Scanner struct {
	b   []byte
	pos int // next byte to read; len(b)+1 once the line is used up
}

func (s *s3Scanner) done() bool { return s.pos > len(s.b) }

// token returns the next space-delimited field.
func (s *s3Scanner) token() ([]byte, bool) {
	if s.done() {
		return nil, false
	}
	rest := s.b[s.pos:]
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		s.pos += i + 1
		return rest[:i], true
	}
	s.pos = len(s.b) + 1
	return rest, true
}

// skipTo makes the byte after end the next to read, requiring it to be a
// space or the end of the line.
func (s *s3Scanner) skipTo(end int) bool {
	switch {
	case end == len(s.b):
		s.pos = len(s.b) + 1
	case s.b[end] == ' ':
		s.pos = end + 1
	default:
		return false
	}
	return true
}

// bracketed reads "[...]" (the time, which has a space inside).
func (s *s3Scanner) bracketed() ([]byte, error) {
	if s.done() || s.pos == len(s.b) {
		return nil, malformed("time", "missing")
	}
	if s.b[s.pos] != '[' {
		return nil, malformed("time", "not in brackets")
	}
	j := bytes.IndexByte(s.b[s.pos:], ']')
	if j < 0 {
		return nil, malformed("time", "no closing bracket")
	}
	v := s.b[s.pos+1 : s.pos+j]
	if !s.skipTo(s.pos + j + 1) {
		return nil, malformed("time", "text after the closing bracket")
	}
	return v, nil
}

// quoted reads a field that is either bare (S3 writes "-" bare at times) or
// double-quoted. S3 does not escape quotes inside the value, so the closing
// quote is taken to be the first '"' followed by a space or the end of the
// line, and, when beforeStatus, by an HTTP status field as well: that keeps a
// Request-URI such as "GET /a" HTTP/1.1" in one piece.
func (s *s3Scanner) quoted(field string, beforeStatus bool) ([]byte, error) {
	if s.done() {
		return nil, malformed(field, "missing")
	}
	rest := s.b[s.pos:]
	if len(rest) == 0 || rest[0] != '"' {
		v, _ := s.token()
		return v, nil
	}
	for from := 1; ; {
		j := bytes.IndexByte(rest[from:], '"')
		if j < 0 {
			return nil, malformed(field, "unterminated quote")
		}
		q := from + j
		from = q + 1
		switch {
		case q+1 == len(rest):
			if beforeStatus {
				return nil, malformed(field, "unterminated quote")
			}
		case rest[q+1] != ' ':
			continue
		case beforeStatus && !looksLikeStatus(rest[q+2:]):
			continue
		}
		s.skipTo(s.pos + q + 1)
		return rest[1:q], nil
	}
}

// tailField reads a field after the user agent. None of the known ones is
// quoted, but one added later may be: a field starting with a quote runs to
// its closing quote, or to the end of the line when there is none.
func (s *s3Scanner) tailField() ([]byte, bool) {
	if s.done() {
		return nil, false
	}
	if s.pos < len(s.b) && s.b[s.pos] == '"' {
		if v, err := s.quoted("", false); err == nil {
			return v, true
		}
		v := s.b[s.pos:]
		s.pos = len(s.b) + 1
		return v, true
	}
	return s.token()
}

// looksLikeStatus reports whether b starts with a status field: "-" or three
// digits, then a space or the end.
func looksLikeStatus(b []byte) bool {
	n := bytes.IndexByte(b, ' ')
	if n < 0 {
		n = len(b)
	}
	if n == 1 {
		return b[0] == '-'
	}
	return n == 3 && isDigit(b[0]) && isDigit(b[1]) && isDigit(b[2])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// singleEncoded reports whether S3 URL-encodes the key of an operation once
// rather than twice: lifecycle (S3.*) and batch delete records are written
// by S3's own services, which encode once; requests are encoded twice.
func singleEncoded(op []byte) bool {
	return bytes.HasPrefix(op, []byte("S3.")) || bytes.HasPrefix(op, []byte("BATCH."))
}

// singleEncodedOp is singleEncoded for an operation held as a string.
func singleEncodedOp(op string) bool {
	return strings.HasPrefix(op, "S3.") || strings.HasPrefix(op, "BATCH.")
}

// mayWrite is a quick look at an operation: false for every one but
// REST.PUT.*, REST.POST.* and REST.COPY.*, which KindOf then tells apart.
func mayWrite(op []byte) bool {
	return len(op) > 5 && (op[5] == 'P' || op[5] == 'C')
}

// ParseS3 parses one S3 server access log record into rec, replacing all of
// rec. line may end in "\n" or "\r\n". An error is a *ParseError.
func (p *Parser) ParseS3(line []byte, rec *Record) error {
	p.init()
	*rec = Record{Format: FormatS3}
	line = trimLineEnd(line)
	if len(line) == 0 {
		return malformed("line", "empty")
	}
	s := s3Scanner{b: line}
	tooFew := func(n int) error {
		return malformed("fields", "record ends after "+strconv.Itoa(n)+" fields, want at least "+strconv.Itoa(S3FieldsMin))
	}

	owner, _ := s.token()
	bucket, ok := s.token()
	if !ok {
		return tooFew(1)
	}
	if s.done() {
		return tooFew(2)
	}
	rawTime, err := s.bracketed()
	if err != nil {
		return err
	}
	if rec.Time, err = parseS3Time(rawTime); err != nil {
		return malformed("time", err.Error())
	}
	ip, _ := s.token()
	requester, _ := s.token()
	requestID, _ := s.token()
	op, _ := s.token()
	rawKey, ok := s.token()
	if !ok {
		return tooFew(7)
	}
	// The key is decoded and hashed now, so that Keys loads its slot while
	// the rest of the line is read; a bad encoding is reported in field
	// order below.
	var key []byte
	var keyHash uint64
	var keyErr error
	if rawKey = undash(rawKey); len(rawKey) > 0 && len(op) > 0 {
		times := 2
		if singleEncoded(op) {
			times = 1
		}
		if key, keyErr = p.decode(rawKey, times); keyErr == nil {
			keyHash = p.hash(key)
		}
	}
	uri, err := s.quoted("request-uri", true)
	if err != nil {
		return err
	}
	status, _ := s.token()
	errorCode, _ := s.token()
	bytesSent, _ := s.token()
	objectSize, _ := s.token()
	totalTime, _ := s.token()
	turnAround, ok := s.token()
	if !ok {
		return tooFew(14)
	}
	referer, err := s.quoted("referer", false)
	if err != nil {
		if s.done() {
			return tooFew(15)
		}
		return err
	}
	userAgent, err := s.quoted("user-agent", false)
	if err != nil {
		if s.done() {
			return tooFew(16)
		}
		return err
	}
	n := 17
	for {
		if n >= p.lastTail && !s.done() {
			// No field after this one is kept: count them, when none is
			// quoted (a quoted one may hold spaces).
			if rest := s.b[s.pos:]; bytes.IndexByte(rest, '"') < 0 {
				n += bytes.Count(rest, []byte{' '}) + 1
				s.pos = len(s.b) + 1
				break
			}
		}
		v, ok := s.tailField()
		if !ok {
			break
		}
		n++
		v = undash(v)
		switch n {
		case 18:
			if len(v) > 0 {
				rec.VersionID = string(v)
			}
		case 19:
			if p.Full && len(v) > 0 {
				rec.HostID = string(v)
			}
		case 20:
			rec.SignatureVersion = p.str(slotSignature, &p.small, v)
		case 21:
			rec.CipherSuite = p.str(slotCipher, &p.small, v)
		case 22:
			rec.AuthType = p.str(slotAuth, &p.small, v)
		case 23:
			rec.HostHeader = p.str(slotHostHeader, &p.small, v)
		case 24:
			rec.TLSVersion = p.str(slotTLS, &p.small, v)
		case 25:
			rec.AccessPointARN = p.str(slotAccessPoint, &p.small, v)
		case 26:
			rec.ACLRequired = p.str(slotACL, &p.small, v)
		case 27:
			rec.SourceRegion = p.str(slotRegion, &p.small, v)
		}
	}
	if n < S3FieldsMin {
		return tooFew(n)
	}
	rec.Fields = n

	if rec.HTTPStatus, ok = parseStatus(status, false); !ok {
		return malformed("http-status", "not a three-digit status from 100 to 599")
	}
	if rec.BytesSent, ok = parseCount(bytesSent); !ok {
		return malformed("bytes-sent", "not a count")
	}
	if rec.ObjectSize, ok = parseCount(objectSize); !ok {
		return malformed("object-size", "not a count")
	}
	ms, ok := parseCount(totalTime)
	if !ok {
		return malformed("total-time", "not a number of milliseconds")
	}
	rec.TotalTime = time.Duration(ms) * time.Millisecond
	if ms, ok = parseCount(turnAround); !ok {
		return malformed("turn-around-time", "not a number of milliseconds")
	}
	rec.TurnAround = time.Duration(ms) * time.Millisecond
	if len(op) == 0 {
		return malformed("operation", "empty")
	}
	if keyErr != nil {
		return malformed("key", keyErr.Error())
	}
	if len(key) > 0 {
		rec.Key, rec.KeyHash = p.key(key, keyHash), keyHash
	}

	rec.BucketOwner = p.str(slotOwner, &p.small, undash(owner))
	rec.Bucket = p.str(slotBucket, &p.small, undash(bucket))
	rec.RemoteIP = p.str(slotRemoteIP, &p.clients, undash(ip))
	rec.Requester = p.str(slotRequester, &p.clients, undash(requester))
	p.requestID(rec, undash(requestID))
	rec.Operation = p.str(slotOperation, &p.small, op)
	if uri = undash(uri); p.Full && len(uri) > 0 {
		rec.RequestURI = string(uri)
	}
	rec.ErrorCode = p.str(slotErrorCode, &p.small, undash(errorCode))
	rec.Referer = p.str(slotReferer, &p.clients, undash(referer))
	if p.Skip&FieldReaderAgent == 0 || mayWrite(op) && KindOf(rec.Operation) == KindWrite {
		rec.UserAgent = p.str(slotUserAgent, &p.clients, undash(userAgent))
	}
	if p.Skip&FieldRemoteIP != 0 {
		p.client(rec, undash(ip), undash(userAgent))
	}
	return nil
}

// AppendS3 appends rec to dst as one S3 server access log line, ending in a
// newline, with the given number of fields: 18 to 27 write the first that
// many (the eras are S3FieldsMin to S3FieldsLatest), anything else writes
// S3FieldsLatest. Empty values are written as "-"; the key is URL-encoded as
// S3 does it (twice, or once for S3.* and BATCH.* operations).
//
// So that one record is always one line that parses back, control
// characters, and spaces outside the quoted fields, are written as %XX, and
// so are double quotes inside the quoted fields. Time is written in UTC.
func AppendS3(dst []byte, rec *Record, fields int) []byte {
	if fields < S3FieldsMin || fields > S3FieldsLatest {
		fields = S3FieldsLatest
	}
	dst = appendBare(dst, rec.BucketOwner)
	dst = append(dst, ' ')
	dst = appendBare(dst, rec.Bucket)
	dst = append(dst, ' ')
	dst = appendS3Time(dst, rec.Time)
	for _, v := range [...]string{rec.RemoteIP, rec.Requester, rec.RequestID, rec.Operation} {
		dst = append(dst, ' ')
		dst = appendBare(dst, v)
	}
	dst = append(dst, ' ')
	switch {
	case rec.Key == "":
		dst = append(dst, '-')
	case rec.Key == "-": // not the log's "no key"
		if singleEncodedOp(rec.Operation) {
			dst = append(dst, "%2D"...)
		} else {
			dst = append(dst, "%252D"...)
		}
	default:
		times := 2
		if singleEncodedOp(rec.Operation) {
			times = 1
		}
		dst = appendEscaped(dst, rec.Key, times)
	}
	dst = append(dst, ' ')
	dst = appendQuoted(dst, rec.RequestURI)
	dst = append(dst, ' ')
	if rec.HTTPStatus > 0 && rec.HTTPStatus < 1000 {
		dst = strconv.AppendInt(dst, int64(rec.HTTPStatus), 10)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	dst = appendBare(dst, rec.ErrorCode)
	dst = append(dst, ' ')
	dst = appendCount(dst, rec.BytesSent, true)
	dst = append(dst, ' ')
	dst = appendCount(dst, rec.ObjectSize, true)
	dst = append(dst, ' ')
	dst = appendCount(dst, rec.TotalTime.Milliseconds(), false)
	dst = append(dst, ' ')
	dst = appendCount(dst, rec.TurnAround.Milliseconds(), true)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, rec.Referer)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, rec.UserAgent)
	tail := [...]string{rec.VersionID, rec.HostID, rec.SignatureVersion, rec.CipherSuite, rec.AuthType,
		rec.HostHeader, rec.TLSVersion, rec.AccessPointARN, rec.ACLRequired, rec.SourceRegion}
	for _, v := range tail[:fields-17] {
		dst = append(dst, ' ')
		dst = appendBare(dst, v)
	}
	return append(dst, '\n')
}

// appendCount appends n, or "-" for a negative n or, when zeroDash, for 0.
func appendCount(dst []byte, n int64, zeroDash bool) []byte {
	if n < 0 || (n == 0 && zeroDash) {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, n, 10)
}

// appendBare appends an unquoted field: "-" when empty, with spaces,
// control characters and double quotes as %XX.
func appendBare(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, '-')
	}
	return appendSafe(dst, v, ' ')
}

// appendQuoted appends a double-quoted field, "-" inside the quotes when
// empty, with control characters and double quotes as %XX.
func appendQuoted(dst []byte, v string) []byte {
	dst = append(dst, '"')
	if v == "" {
		dst = append(dst, '-')
	} else {
		dst = appendSafe(dst, v, ' '-1)
	}
	return append(dst, '"')
}

// appendSafe appends v with the bytes up to and including last, DEL and
// double quotes written as %XX.
func appendSafe(dst []byte, v string, last byte) []byte {
	for {
		i := safePrefix(v, last)
		for i < len(v) && v[i] > last && v[i] != 0x7f && v[i] != '"' {
			i++
		}
		dst = append(dst, v[:i]...)
		if i == len(v) {
			return dst
		}
		c := v[i]
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		v = v[i+1:]
	}
}

// safePrefix returns a length of v, a multiple of eight, whose bytes are all
// above last and neither DEL nor '"', checking eight bytes at a time. It may
// stop early; appendSafe checks the rest byte by byte.
func safePrefix(v string, last byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := ones * uint64(last+1)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		// A byte under last+1, or equal to '"' or DEL, sets its high bit in
		// one of these (bytes of 0x80 and more may set it too: then the
		// byte-by-byte check decides).
		small := (x - below) & ^x
		quote := (x ^ ones*'"') - ones
		del := (x ^ ones*0x7f) - ones
		if (small|quote|del)&highs != 0 {
			break
		}
	}
	return i
}
