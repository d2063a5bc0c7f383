package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Defaults for Config.
const (
	DefaultMaxLineBytes = 64 << 10
	DefaultMaxSamples   = 5
	sampleTextBytes     = 160
	minLineBytes        = 256
)

// Config sets how a Reader treats its input. The zero value means the
// defaults.
type Config struct {
	// MaxLineBytes is the longest line read; a longer one is skipped and
	// counted as malformed. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxSamples is how many malformed lines are kept as samples. 0 means
	// DefaultMaxSamples, a negative number none.
	MaxSamples int
	// Full, KeyLimit, ClientLimit, Skip and Keys are passed to the Parser.
	Full        bool
	KeyLimit    int
	ClientLimit int
	Skip        Fields
	Keys        Keys
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.MaxLineBytes != 0 && c.MaxLineBytes < minLineBytes {
		return fmt.Errorf("max line bytes %d: want 0 (default %d) or at least %d", c.MaxLineBytes, DefaultMaxLineBytes, minLineBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	c.MaxSamples = limitOr(c.MaxSamples, DefaultMaxSamples)
	return c
}

// Malformed is a sample of a line that was skipped.
type Malformed struct {
	Line   int64  // 1-based line number in the (decompressed) stream
	Reason string // why it was skipped
	Text   string // the line's start, at most 160 bytes, made valid UTF-8
}

func (m Malformed) String() string {
	return fmt.Sprintf("line %d: %s: %s", m.Line, m.Reason, strconv.Quote(m.Text))
}

// Stats counts what a Reader has read since it was made or last Reset.
type Stats struct {
	Lines     int64 // every line, including blank lines and headers
	Records   int64 // lines returned as records
	Malformed int64 // lines skipped as not records (over-long ones included)
	Samples   []Malformed
}

// Reader reads Records from a stream of log lines: S3 server access logs or
// CloudFront standard logs, plain or gzip (detected by its magic bytes). The
// format is decided by the first line that is not blank: a '#' starts a
// CloudFront log, anything else an S3 log. Lines that are not records are
// counted and skipped; Read fails only when the stream does.
type Reader struct {
	cfg    Config
	parser Parser
	src    io.Reader
	raw    *bufio.Reader
	gz     *gzip.Reader
	zbuf   *bufio.Reader
	lines  *bufio.Reader
	opened bool

	// mem is what is left of the text given to ResetBytes, read in place
	// (inMem) rather than through lines.
	mem   []byte
	inMem bool

	format Format
	schema *CloudFrontSchema
	stats  Stats
	err    error
}

// NewReader returns a Reader of src. The config must be valid.
func NewReader(src io.Reader, cfg Config) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Reader{cfg: cfg}
	r.parser = Parser{Full: cfg.Full, KeyLimit: cfg.KeyLimit, ClientLimit: cfg.ClientLimit, Skip: cfg.Skip, Keys: cfg.Keys}
	r.Reset(src)
	return r, nil
}

// Reset makes r read src from the start, keeping its buffers and the
// strings its parser remembers; the counts start again from zero.
func (r *Reader) Reset(src io.Reader) {
	r.src = src
	r.opened = false
	r.mem, r.inMem = nil, false
	r.format = FormatUnknown
	r.schema = nil
	r.stats = Stats{}
	r.err = nil
}

// ResetBytes is Reset for a log already in memory, b: plain text is read
// in place, with no copy through a buffer, and gzip as Reset reads it. The
// records are the same as Reset(bytes.NewReader(b)) gives. b must not
// change until r is reset again.
func (r *Reader) ResetBytes(b []byte) {
	if bytes.HasPrefix(b, []byte(gzipMagic)) {
		r.Reset(bytes.NewReader(b))
		return
	}
	r.Reset(nil)
	r.opened, r.mem, r.inMem = true, b, true
}

// Format is the format detected so far.
func (r *Reader) Format() Format { return r.format }

// Stats returns the counts so far. The samples are shared with the Reader
// until the next Reset.
func (r *Reader) Stats() Stats { return r.stats }

// gzipMagic starts every gzip stream.
const gzipMagic = "\x1f\x8b"

// open sets up the line reader, looking through gzip when the stream starts
// with its magic bytes.
func (r *Reader) open() error {
	r.opened = true
	if r.raw == nil {
		r.raw = bufio.NewReaderSize(r.src, r.cfg.MaxLineBytes)
	} else {
		r.raw.Reset(r.src)
	}
	r.lines = r.raw
	head, err := r.raw.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read log: %w", err)
	}
	if string(head) != gzipMagic {
		return nil
	}
	if r.gz == nil {
		r.gz, err = gzip.NewReader(r.raw)
	} else {
		err = r.gz.Reset(r.raw)
	}
	if err != nil {
		return fmt.Errorf("read gzip log: %w", err)
	}
	if r.zbuf == nil {
		r.zbuf = bufio.NewReaderSize(r.gz, r.cfg.MaxLineBytes)
	} else {
		r.zbuf.Reset(r.gz)
	}
	r.lines = r.zbuf
	return nil
}

// Read reads the next record into rec. It returns io.EOF at the end of the
// stream and any other error only when reading the stream fails.
func (r *Reader) Read(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	if !r.opened {
		if err := r.open(); err != nil {
			r.err = err
			return err
		}
	}
	if r.inMem {
		return r.readMem(rec)
	}
	for {
		line, err := r.lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.stats.Lines++
			r.skipMalformed(line, overLong(r.cfg.MaxLineBytes))
			if err = r.discardRestOfLine(); err != nil && !errors.Is(err, io.EOF) {
				r.err = fmt.Errorf("read log: %w", err)
				return r.err
			}
			if err != nil {
				r.err = io.EOF
				return io.EOF
			}
			continue
		}
		if len(line) > 0 {
			r.stats.Lines++
			if r.handle(line, rec) {
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.err = io.EOF
			} else {
				r.err = fmt.Errorf("read log: %w", err)
			}
			return r.err
		}
	}
}

// readMem is Read for a log given to ResetBytes. Lines are cut as the
// buffered reader Read uses otherwise cuts them: a line longer than its
// buffer (MaxLineBytes), or a last line without a newline that fills it,
// is skipped.
func (r *Reader) readMem(rec *Record) error {
	for len(r.mem) > 0 {
		line := r.mem
		end := bytes.IndexByte(line, '\n')
		if end >= 0 {
			line = line[:end+1]
		}
		r.mem = r.mem[len(line):]
		r.stats.Lines++
		if n := r.cfg.MaxLineBytes; len(line) > n || end < 0 && len(line) == n {
			r.skipMalformed(line[:n], overLong(n))
			continue
		}
		if r.handle(line, rec) {
			return nil
		}
	}
	r.err = io.EOF
	return io.EOF
}

// overLong is why a line longer than n bytes is skipped.
func overLong(n int) string { return "line longer than " + strconv.Itoa(n) + " bytes" }

// discardRestOfLine skips to the next newline after an over-long line.
func (r *Reader) discardRestOfLine() error {
	for {
		_, err := r.lines.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// handle deals with one line and reports whether it filled rec.
func (r *Reader) handle(line []byte, rec *Record) bool {
	body := trimLineEnd(line)
	if len(body) == 0 {
		return false
	}
	if r.format == FormatUnknown {
		r.format = FormatS3
		if body[0] == '#' {
			r.format = FormatCloudFront
		}
	}
	var err error
	switch {
	case r.format == FormatCloudFront && body[0] == '#':
		if bytes.HasPrefix(body, []byte("#Fields:")) {
			if r.schema, err = ParseCloudFrontFields(body); err != nil {
				r.skipMalformed(line, err.Error())
			}
		}
		return false // #Version and other directives
	case r.format == FormatCloudFront && r.schema == nil:
		err = ErrNoFields
	case r.format == FormatCloudFront:
		err = r.parser.ParseCloudFront(r.schema, line, rec)
	default:
		err = r.parser.ParseS3(line, rec)
	}
	if err != nil {
		r.skipMalformed(line, err.Error())
		return false
	}
	r.stats.Records++
	return true
}

// skipMalformed counts a skipped line and keeps it as a sample while there
// is room.
func (r *Reader) skipMalformed(line []byte, reason string) {
	r.stats.Malformed++
	if len(r.stats.Samples) >= r.cfg.MaxSamples {
		return
	}
	text := trimLineEnd(line)
	if len(text) > sampleTextBytes {
		text = text[:sampleTextBytes]
	}
	r.stats.Samples = append(r.stats.Samples, Malformed{
		Line:   r.stats.Lines,
		Reason: reason,
		Text:   string(bytes.ToValidUTF8(text, []byte(string(utf8.RuneError)))),
	})
}
