package accesslog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/loggen"
)

// generatedLog is a day of realistic access log records, all of them well
// formed, as one stream.
func generatedLog(b *testing.B) []byte {
	b.Helper()
	cfg := loggen.DefaultConfig()
	cfg.Days, cfg.RequestsPerDay, cfg.MalformedRate, cfg.DuplicateRate = 1, 100_000, 0, 0
	g, err := loggen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var all []byte
	sink := loggen.SinkFunc(func(_ context.Context, _ string, body []byte) error {
		all = append(all, body...)
		return nil
	})
	if err := g.Run(context.Background(), sink); err != nil {
		b.Fatal(err)
	}
	return all
}

// BenchmarkParseS3 parses generated lines with one Parser, as the analyzer
// does, and reports lines per second: with every field, and lean, with only
// the fields an analyzer of requests needs.
func BenchmarkParseS3(b *testing.B) {
	var lines [][]byte
	var size int64
	for line := range bytes.Lines(generatedLog(b)) {
		lines = append(lines, line)
		size += int64(len(line))
	}
	lean := accesslog.FieldBucketOwner | accesslog.FieldRemoteIP | accesslog.FieldRequester |
		accesslog.FieldReferer | accesslog.FieldTLS | accesslog.FieldAccessPoint | accesslog.FieldHostHeader
	for _, bc := range []struct {
		name   string
		parser accesslog.Parser
	}{
		{"all", accesslog.Parser{}},
		{"lean", accesslog.Parser{Skip: lean}},
		{"lean-unremembered-keys", accesslog.Parser{Skip: lean, KeyLimit: -1}},
		// as the analyzer parses: its own table of keys (here one that
		// costs nothing), request IDs only hashed
		{"analyzer", accesslog.Parser{Skip: lean | accesslog.FieldUserAgent | accesslog.FieldRequestID, Keys: oneKey{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.parser
			var rec accesslog.Record
			b.SetBytes(size / int64(len(lines)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := p.ParseS3(lines[n%len(lines)], &rec); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// oneKey is Keys that costs nothing: every key is "k".
type oneKey struct{}

func (oneKey) Hash([]byte) uint64        { return 1 }
func (oneKey) Key([]byte, uint64) string { return "k" }

// BenchmarkReaderS3 reads the generated log through a Reader: line
// splitting included.
func BenchmarkReaderS3(b *testing.B) {
	log := generatedLog(b)
	r, err := accesslog.NewReader(nil, accesslog.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var rec accesslog.Record
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	lines := 0
	for b.Loop() {
		r.Reset(bytes.NewReader(log))
		for {
			err := r.Read(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			lines++
		}
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
