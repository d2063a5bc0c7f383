package accesslog

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// cfColumn is a CloudFront log column this package reads.
type cfColumn uint8

const (
	cfIgnored cfColumn = iota
	cfDate
	cfTime
	cfBytesSent
	cfClientIP
	cfMethod
	cfHost
	cfURIStem
	cfStatus
	cfReferer
	cfUserAgent
	cfQuery
	cfResult
	cfRequestID
	cfHostHeader
	cfTimeTaken
	cfSSLProtocol
	cfSSLCipher
	cfProtocolVersion
	cfDetailedResult
	cfContentLen
	cfColumns // number of columns above
)

// cfColumnOf maps a W3C field name from a #Fields header to a column.
func cfColumnOf(name string) cfColumn {
	switch name {
	case "date":
		return cfDate
	case "time":
		return cfTime
	case "sc-bytes":
		return cfBytesSent
	case "c-ip":
		return cfClientIP
	case "cs-method":
		return cfMethod
	case "cs(Host)":
		return cfHost
	case "cs-uri-stem":
		return cfURIStem
	case "sc-status":
		return cfStatus
	case "cs(Referer)":
		return cfReferer
	case "cs(User-Agent)":
		return cfUserAgent
	case "cs-uri-query":
		return cfQuery
	case "x-edge-result-type":
		return cfResult
	case "x-edge-request-id":
		return cfRequestID
	case "x-host-header":
		return cfHostHeader
	case "time-taken":
		return cfTimeTaken
	case "ssl-protocol":
		return cfSSLProtocol
	case "ssl-cipher":
		return cfSSLCipher
	case "cs-protocol-version":
		return cfProtocolVersion
	case "x-edge-detailed-result-type":
		return cfDetailedResult
	case "sc-content-len":
		return cfContentLen
	}
	return cfIgnored
}

// ErrNoFields is returned for a #Fields header that is missing or lacks a
// column a record cannot do without.
var ErrNoFields = errors.New("no usable #Fields header")

// CloudFrontSchema is the column layout a CloudFront log's #Fields header
// declares. Records are read by it, never by position.
type CloudFrontSchema struct {
	cols []cfColumn
}

// Columns is the number of columns the header names.
func (s *CloudFrontSchema) Columns() int { return len(s.cols) }

// ParseCloudFrontFields reads a "#Fields: date time ..." header line. It must
// name date, time, cs-uri-stem and sc-status, each once.
func ParseCloudFrontFields(line []byte) (*CloudFrontSchema, error) {
	rest, ok := bytes.CutPrefix(trimLineEnd(line), []byte("#Fields:"))
	if !ok {
		return nil, ErrNoFields
	}
	names := strings.Fields(string(rest))
	s := &CloudFrontSchema{cols: make([]cfColumn, len(names))}
	var seen [cfColumns]bool
	for i, name := range names {
		c := cfColumnOf(name)
		if c != cfIgnored {
			if seen[c] {
				return nil, errors.Join(ErrNoFields, errors.New("field "+strconv.Quote(name)+" named twice"))
			}
			seen[c] = true
		}
		s.cols[i] = c
	}
	for _, need := range [...]struct {
		c    cfColumn
		name string
	}{{cfDate, "date"}, {cfTime, "time"}, {cfURIStem, "cs-uri-stem"}, {cfStatus, "sc-status"}} {
		if !seen[need.c] {
			return nil, errors.Join(ErrNoFields, errors.New("no "+need.name+" field"))
		}
	}
	return s, nil
}

// parseSeconds parses CloudFront's "0.082" (seconds, up to nanoseconds).
func parseSeconds(b []byte) (time.Duration, bool) {
	if isDash(b) {
		return 0, true
	}
	whole, frac, _ := bytes.Cut(b, []byte("."))
	if len(whole) == 0 || len(whole) > 9 || len(frac) > 9 {
		return 0, false
	}
	s, ok := parseCount(whole)
	if !ok {
		return 0, false
	}
	d := time.Duration(s) * time.Second
	scale := time.Duration(100_000_000)
	for _, c := range frac {
		if !isDigit(c) {
			return 0, false
		}
		d += time.Duration(c-'0') * scale
		scale /= 10
	}
	return d, true
}

// validMethod reports whether b is an HTTP method: 1 to 16 upper-case letters.
func validMethod(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// ParseCloudFront parses one tab-separated CloudFront standard log record,
// laid out as schema says, into rec, replacing all of rec. The key is
// cs-uri-stem decoded twice (CloudFront logs the request's already encoded
// path and encodes its '%' again) without the leading '/'; the user agent
// and referer are decoded once, and kept as logged if that fails. The
// operation is CLOUDFRONT.<method>.OBJECT (GET when the log has no
// cs-method). An error is a *ParseError.
func (p *Parser) ParseCloudFront(schema *CloudFrontSchema, line []byte, rec *Record) error {
	p.init()
	*rec = Record{Format: FormatCloudFront}
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return malformed("line", "empty")
	}
	var date, clock, stem, method, query, proto, detailed []byte
	var clientIP []byte
	p.agent = p.agent[:0]
	n := 0
	for rest, more := line, true; more; n++ {
		var v []byte
		if i := bytes.IndexByte(rest, '\t'); i >= 0 {
			v, rest = rest[:i], rest[i+1:]
		} else {
			v, more = rest, false
		}
		if n >= len(schema.cols) {
			continue
		}
		var ok bool
		switch schema.cols[n] {
		case cfDate:
			date = v
		case cfTime:
			clock = v
		case cfURIStem:
			stem = v
		case cfMethod:
			method = v
		case cfQuery:
			query = undash(v)
		case cfProtocolVersion:
			proto = undash(v)
		case cfDetailedResult:
			detailed = undash(v)
		case cfStatus:
			if rec.HTTPStatus, ok = parseStatus(v, true); !ok {
				return malformed("sc-status", "not a three-digit status")
			}
		case cfBytesSent:
			if rec.BytesSent, ok = parseCount(v); !ok {
				return malformed("sc-bytes", "not a count")
			}
		case cfContentLen:
			if rec.ObjectSize, ok = parseCount(v); !ok {
				return malformed("sc-content-len", "not a count")
			}
		case cfTimeTaken:
			if rec.TotalTime, ok = parseSeconds(v); !ok {
				return malformed("time-taken", "not a number of seconds")
			}
		case cfClientIP:
			clientIP = undash(v)
			rec.RemoteIP = p.str(slotRemoteIP, &p.clients, clientIP)
		case cfHost:
			rec.Bucket = p.str(slotBucket, &p.small, undash(v))
		case cfHostHeader:
			rec.HostHeader = p.str(slotHostHeader, &p.small, undash(v))
		case cfResult:
			rec.EdgeResult = p.str(slotEdgeResult, &p.small, undash(v))
		case cfSSLProtocol:
			rec.TLSVersion = p.str(slotTLS, &p.small, undash(v))
		case cfSSLCipher:
			rec.CipherSuite = p.str(slotCipher, &p.small, undash(v))
		case cfRequestID:
			p.requestID(rec, undash(v))
		case cfReferer:
			if p.skips(slotReferer) {
				continue
			}
			rec.Referer = p.str(slotReferer, &p.clients, p.lenientDecode(undash(v)))
		case cfUserAgent:
			if p.Skip&FieldRemoteIP != 0 { // for ClientHash, decoded as UserAgent would be
				p.agent = append(p.agent[:0], p.lenientDecode(undash(v))...)
			}
			// FieldReaderAgent: CloudFront logs requests through the
			// CDN, never the writes to the bucket behind it.
			if p.skips(slotUserAgent) || p.Skip&FieldReaderAgent != 0 {
				continue
			}
			rec.UserAgent = p.str(slotUserAgent, &p.clients, p.lenientDecode(undash(v)))
		}
	}
	if p.Skip&FieldRemoteIP != 0 {
		p.client(rec, clientIP, p.agent)
	}
	if n < len(schema.cols) {
		return malformed("fields", "record has "+strconv.Itoa(n)+" fields, #Fields names "+strconv.Itoa(len(schema.cols)))
	}
	rec.Fields = n
	var err error
	if rec.Time, err = parseW3CDateTime(date, clock); err != nil {
		return malformed("date-time", err.Error())
	}
	switch {
	case method == nil:
		rec.Operation = OpCloudFrontGet
	case !validMethod(method):
		return malformed("cs-method", "not an HTTP method")
	default:
		op := append(p.scratch[:0], opCloudFrontPrefix...)
		op = append(append(op, method...), opCloudFrontSuffix...)
		rec.Operation = p.str(slotOperation, &p.small, op)
		p.scratch = op[:0]
	}
	if rec.EdgeResult == "Error" {
		rec.ErrorCode = "Error"
		if detailed != nil {
			rec.ErrorCode = p.small.str(detailed)
		}
	}
	if p.Full {
		rec.RequestURI = cloudFrontRequestLine(method, stem, query, proto)
	}
	if stem = undash(stem); len(stem) > 0 {
		key, err := p.decode(stem, 2)
		if err != nil {
			return malformed("cs-uri-stem", err.Error())
		}
		key = bytes.TrimPrefix(key, []byte("/"))
		h := p.hash(key)
		rec.Key, rec.KeyHash = p.key(key, h), h
	}
	return nil
}

const (
	opCloudFrontPrefix = "CLOUDFRONT."
	opCloudFrontSuffix = ".OBJECT"
)

// cloudFrontRequestLine rebuilds "GET /stem?query HTTP/2.0" from its columns.
func cloudFrontRequestLine(method, stem, query, proto []byte) string {
	var b strings.Builder
	b.Write(method)
	b.WriteByte(' ')
	b.Write(stem)
	if len(query) > 0 {
		b.WriteByte('?')
		b.Write(query)
	}
	if len(proto) > 0 {
		b.WriteByte(' ')
		b.Write(proto)
	}
	return strings.TrimSpace(b.String())
}

// lenientDecode decodes a percent-encoded value once, or returns it as it is
// when it is not validly encoded. The result may be the scratch buffer.
func (p *Parser) lenientDecode(v []byte) []byte {
	d, err := p.decode(v, 1)
	if err != nil {
		return v
	}
	return d
}

// CloudFrontHeader is the header AppendCloudFront's lines go under: the
// 33 fields of CloudFront's standard (legacy) log.
const CloudFrontHeader = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) " +
	"cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type " +
	"x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol " +
	"ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port " +
	"time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"

// methodOf is the HTTP method an operation stands for: the middle part of
// CLOUDFRONT.GET.OBJECT or REST.HEAD.OBJECT, else GET.
func methodOf(op string) string {
	_, rest, ok := strings.Cut(op, ".")
	if m, _, ok2 := strings.Cut(rest, "."); ok && ok2 && validMethod([]byte(m)) {
		return m
	}
	return "GET"
}

// AppendCloudFront appends rec to dst as one line under CloudFrontHeader,
// ending in a newline. The key is written as a client encodes the path and
// CloudFront then encodes the result; other values are encoded as CloudFront
// does. Fields a Record does not hold are "-".
func AppendCloudFront(dst []byte, rec *Record) []byte {
	tab := func(dst []byte) []byte { return append(dst, '\t') }
	field := func(dst []byte, v string) []byte {
		if v == "" {
			return append(dst, '-')
		}
		return appendW3CEscaped(dst, v)
	}
	dst = appendW3CDateTime(dst, rec.Time)
	dst = append(dst, "\t-\t"...) // x-edge-location
	dst = strconv.AppendInt(dst, max(rec.BytesSent, 0), 10)
	dst = field(tab(dst), rec.RemoteIP)
	dst = append(tab(dst), methodOf(rec.Operation)...)
	dst = field(tab(dst), rec.Bucket)
	dst = append(tab(dst), '/')
	// A client sends the key percent-encoded; CloudFront encodes that again.
	dst = appendW3CEscaped(dst, string(appendEscaped(nil, rec.Key, 1)))
	dst = tab(dst)
	if rec.HTTPStatus > 0 && rec.HTTPStatus < 1000 {
		dst = strconv.AppendInt(dst, int64(rec.HTTPStatus), 10)
	} else {
		dst = append(dst, "000"...)
	}
	dst = field(tab(dst), rec.Referer)
	dst = field(tab(dst), rec.UserAgent)
	dst = append(dst, "\t-\t-"...) // cs-uri-query, cs(Cookie)
	dst = field(tab(dst), rec.EdgeResult)
	dst = field(tab(dst), rec.RequestID)
	dst = field(tab(dst), rec.HostHeader)
	if rec.TLSVersion != "" {
		dst = append(dst, "\thttps\t-\t"...) // cs-protocol, cs-bytes
	} else {
		dst = append(dst, "\thttp\t-\t"...)
	}
	ms := max(rec.TotalTime.Milliseconds(), 0)
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.', byte('0'+ms/100%10), byte('0'+ms/10%10), byte('0'+ms%10))
	dst = append(dst, "\t-"...) // x-forwarded-for
	dst = field(tab(dst), rec.TLSVersion)
	dst = field(tab(dst), rec.CipherSuite)
	dst = field(tab(dst), rec.EdgeResult)          // x-edge-response-result-type
	dst = append(dst, "\tHTTP/1.1\t-\t-\t-\t-"...) // protocol version, fle-status, fle-encrypted-fields, c-port, time-to-first-byte
	detailed := rec.EdgeResult
	if rec.EdgeResult == "Error" && rec.ErrorCode != "" {
		detailed = rec.ErrorCode
	}
	dst = field(tab(dst), detailed)
	dst = append(dst, "\t-\t"...) // sc-content-type
	if rec.ObjectSize > 0 {
		dst = strconv.AppendInt(dst, rec.ObjectSize, 10)
	} else {
		dst = append(dst, '-')
	}
	return append(dst, "\t-\t-\n"...) // sc-range-start, sc-range-end
}
