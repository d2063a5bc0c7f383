package accesslog

import "bytes"

// Bounds on what a Parser remembers.
const (
	// DefaultKeyLimit is how many distinct keys a Parser remembers by default.
	DefaultKeyLimit = 1 << 16
	// DefaultClientLimit is how many distinct client values (remote IPs,
	// requesters, user agents, referers) a Parser remembers by default.
	DefaultClientLimit = 1 << 14

	smallLimit     = 1 << 12 // buckets, operations, error codes, TLS versions, ...
	smallMaxBytes  = 256
	clientMaxBytes = 256
	keyMaxBytes    = 1024 // S3's own limit on key length
)

// Parser turns lines into Records. The zero Parser is ready to use; it is not
// safe for concurrent use. Its settings are read when it parses its first
// line.
//
// A Parser remembers the strings it has made, up to a bound per kind of
// value, and hands the same string out again when a value repeats: bucket
// names, operations, user agents, keys of popular objects and so on cost no
// allocation after their first appearance. Values past the bound are still
// returned, just not remembered. RequestID is the one string allocated for
// every record (it is unique per request); RequestURI and HostID, also
// unique, are filled only when Full is set. Fields a caller does not need
// can be skipped (Skip) to save the time to look them up.
type Parser struct {
	// Full makes the parser fill RequestURI and HostID as well.
	Full bool
	// KeyLimit bounds the distinct keys remembered: 0 means DefaultKeyLimit,
	// a negative number none.
	KeyLimit int
	// ClientLimit bounds the distinct client values remembered: 0 means
	// DefaultClientLimit, a negative number none.
	ClientLimit int
	// Skip lists fields to leave empty, saving the time to fill them.
	Skip Fields
	// Keys, when set, makes the records' key strings in place of the
	// parser's own table of keys (KeyLimit is then unused).
	Keys Keys

	small, clients, keys interner
	ready                bool
	lastTail             int // the last field after the user agent kept (see init)
	scratch              []byte
	agent                []byte          // a CloudFront line's user agent, decoded, for ClientHash
	crawlers             map[uint64]bool // by agent hash: whether a crawler's (see client)
	// last holds each field's value in the previous record: most fields of
	// consecutive records are equal, and comparing is cheaper than a lookup.
	last [slotCount]string
}

// Slots of Parser.last.
const (
	slotOwner = iota
	slotBucket
	slotRemoteIP
	slotRequester
	slotOperation
	slotErrorCode
	slotReferer
	slotUserAgent
	slotSignature
	slotCipher
	slotAuth
	slotHostHeader
	slotTLS
	slotAccessPoint
	slotACL
	slotRegion
	slotEdgeResult
	slotCount
)

// Fields is a set of Record fields that a Parser can leave empty.
type Fields uint32

// Fields a Parser can skip. Bucket, Time, Operation, Key,
// HTTPStatus, ErrorCode, the counts and times, VersionID and EdgeResult are
// always filled.
const (
	FieldBucketOwner Fields = 1 << slotOwner
	FieldRemoteIP    Fields = 1 << slotRemoteIP
	FieldRequester   Fields = 1 << slotRequester
	FieldReferer     Fields = 1 << slotReferer
	FieldUserAgent   Fields = 1 << slotUserAgent
	FieldHostHeader  Fields = 1 << slotHostHeader
	// FieldTLS is SignatureVersion, CipherSuite, AuthType and TLSVersion.
	FieldTLS Fields = 1<<slotSignature | 1<<slotCipher | 1<<slotAuth | 1<<slotTLS
	// FieldAccessPoint is AccessPointARN, ACLRequired and SourceRegion.
	FieldAccessPoint Fields = 1<<slotAccessPoint | 1<<slotACL | 1<<slotRegion
	// FieldRequestID leaves RequestID empty and fills RequestIDHash
	// instead: the one per-record allocation saved.
	FieldRequestID Fields = 1 << 31
	// FieldReaderAgent leaves UserAgent empty in records that do not write
	// an object (KindWrite): who wrote an object tells a thumbnail from an
	// upload, while readers' agents are many and not needed.
	FieldReaderAgent Fields = 1 << 30
)

// requestID fills the record's RequestID, or its hash when the field is
// skipped.
func (p *Parser) requestID(rec *Record, id []byte) {
	if len(id) == 0 {
		return
	}
	if p.Skip&FieldRequestID != 0 {
		rec.RequestIDHash = HashPart(HashStart, id)
		return
	}
	rec.RequestID = string(id)
}

// Keys is a table of keys that makes the records' key strings: a caller
// that keeps a table of keys anyway hands out the strings it holds, which
// saves the parser's own table and a second lookup per record. For each
// record with a key the parser calls Hash once, with the key decoded, as
// soon as it has found the key field (before it reads the rest of the line,
// so that the table can start loading the slot it will look in), then Key
// with the same bytes and that hash; the record carries the hash in
// KeyHash. b is only valid during the call.
type Keys interface {
	Hash(b []byte) uint64
	Key(b []byte, hash uint64) string
}

// hash returns Keys' hash of the decoded key b (0 without Keys).
func (p *Parser) hash(b []byte) uint64 {
	if p.Keys != nil && len(b) > 0 {
		return p.Keys.Hash(b)
	}
	return 0
}

// key returns the key string for b, of Keys' hash h.
func (p *Parser) key(b []byte, h uint64) string {
	if p.Keys != nil && len(b) > 0 {
		return p.Keys.Key(b, h)
	}
	return p.keys.str(b)
}

// skips reports whether the field in slot is to be left empty.
func (p *Parser) skips(slot int) bool { return p.Skip&(1<<slot) != 0 }

// str returns the string for b, the previous record's value of the same
// field when it is the same, else t's; "" when the field is skipped.
func (p *Parser) str(slot int, t *interner, b []byte) string {
	if p.skips(slot) {
		return ""
	}
	if string(b) == p.last[slot] { // no allocation
		return p.last[slot]
	}
	s := t.str(b)
	p.last[slot] = s
	return s
}

func (p *Parser) init() {
	if p.ready {
		return
	}
	p.ready = true
	p.small = interner{limit: smallLimit, maxLen: smallMaxBytes}
	p.clients = interner{limit: limitOr(p.ClientLimit, DefaultClientLimit), maxLen: clientMaxBytes}
	p.keys = interner{limit: limitOr(p.KeyLimit, DefaultKeyLimit), maxLen: keyMaxBytes}
	p.lastTail = 18 // VersionID
	if p.Full {
		p.lastTail = 19 // HostID
	}
	for n := 20; n <= S3FieldsLatest; n++ { // their slots are in field order
		if !p.skips(slotSignature + n - 20) {
			p.lastTail = n
		}
	}
}

func limitOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// interner hands out one string per distinct value, remembering at most
// limit values no longer than maxLen bytes.
type interner struct {
	m      map[string]string
	limit  int
	maxLen int
}

func (t *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := t.m[string(b)]; ok { // the conversion does not allocate
		return s
	}
	s := string(b)
	if len(b) <= t.maxLen && len(t.m) < t.limit {
		if t.m == nil {
			t.m = make(map[string]string, 64)
		}
		t.m[s] = s
	}
	return s
}

// isDash reports whether a field is the log's "no value".
func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// undash maps "-" to nothing.
func undash(b []byte) []byte {
	if isDash(b) {
		return nil
	}
	return b
}

// trimLineEnd drops a trailing newline, carriage return and spaces.
func trimLineEnd(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', ' ':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// parseCount parses a non-negative decimal of at most 18 digits; "-" is 0.
func parseCount(b []byte) (int64, bool) {
	if isDash(b) {
		return 0, true
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseStatus parses a three-digit HTTP status; "-" is 0, and so is "000"
// when allowZero (CloudFront's "the viewer closed the connection").
func parseStatus(b []byte, allowZero bool) (int, bool) {
	if isDash(b) {
		return 0, true
	}
	if len(b) != 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 && allowZero {
		return 0, true
	}
	return n, n >= 100 && n <= 599
}

// decode percent-decodes raw times times (1 or 2). The result is raw itself
// when it has no escapes, else the parser's scratch buffer, valid until the
// next call.
func (p *Parser) decode(raw []byte, times int) ([]byte, error) {
	if bytes.IndexByte(raw, '%') < 0 {
		return raw, nil
	}
	buf, err := unescape(p.scratch[:0], raw)
	if err == nil && times > 1 && bytes.IndexByte(buf, '%') >= 0 {
		buf, err = unescapeInPlace(buf)
	}
	p.scratch = buf[:0]
	return buf, err
}
