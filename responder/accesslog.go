package responder

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/atomicfile"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// AccessLogger receives one record per request the front answers and per
// object written or deleted (LoggedStore), in the S3 server access log's terms, so the
// analyzer reads the local front's traffic exactly as it reads a bucket's.
type AccessLogger interface {
	Log(rec *accesslog.Record)
}

// AccessLogDir writes access log records as S3 delivers them: batches of
// lines in new objects named PREFIX YYYY-mm-DD-HH-MM-SS-UNIQUE, here files
// in a directory, each written whole (a temporary file, then a rename).
type AccessLogDir struct {
	dir    string
	bucket string
	log    *slog.Logger
	full   chan struct{} // a batch reached accessLogBatch bytes: flush now

	mu      sync.Mutex
	buf     []byte
	dropped int // records dropped since the last successful flush
}

const (
	// accessLogBatch is the size at which a batch is written before its
	// interval is up.
	accessLogBatch = 8 << 20
	// accessLogHeld is the most kept in memory while writes fail; records
	// past it are dropped and the loss is logged.
	accessLogHeld = 4 * accessLogBatch
)

// NewAccessLogDir writes logs for bucket (a name for the store in the
// records) into dir, creating it if needed.
func NewAccessLogDir(dir, bucket string, log *slog.Logger) (*AccessLogDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("access log directory: %w", err)
	}
	return &AccessLogDir{dir: dir, bucket: bucket, log: log, full: make(chan struct{}, 1)}, nil
}

// Log adds a record to the current batch.
func (d *AccessLogDir) Log(rec *accesslog.Record) {
	rec.Bucket = d.bucket
	d.mu.Lock()
	if len(d.buf) >= accessLogHeld {
		d.dropped++
	} else {
		d.buf = accesslog.AppendS3(d.buf, rec, accesslog.S3FieldsLatest)
	}
	full := len(d.buf) >= accessLogBatch
	d.mu.Unlock()
	if full {
		select {
		case d.full <- struct{}{}:
		default:
		}
	}
}

// Flush writes the batch so far as one log object; with nothing logged it
// writes nothing. A batch that cannot be written is kept for the next
// flush, up to accessLogHeld bytes.
func (d *AccessLogDir) Flush(now time.Time) error {
	d.mu.Lock()
	batch, dropped := d.buf, d.dropped
	d.buf = nil
	d.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := d.write(batch, now)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if len(batch)+len(d.buf) <= accessLogHeld {
			d.buf = append(batch, d.buf...)
		} else {
			d.dropped += bytes.Count(batch, []byte{'\n'})
		}
		return err
	}
	d.dropped -= dropped
	if dropped > 0 {
		d.log.Error("access log records dropped while writes failed", "records", dropped)
	}
	return nil
}

// write writes one batch as a new log object.
func (d *AccessLogDir) write(batch []byte, now time.Time) error {
	name := accesslog.SimpleLogKey("", now, strconv.FormatUint(rand.Uint64(), 36))
	if err := atomicfile.WriteFile(filepath.Join(d.dir, name), "", batch); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes what is left.
func (d *AccessLogDir) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			if err := d.Flush(now); err != nil {
				d.log.Error("access log", "err", err)
			}
		case <-d.full:
			if err := d.Flush(time.Now()); err != nil {
				d.log.Error("access log", "err", err)
			}
		case <-ctx.Done():
			if err := d.Flush(time.Now()); err != nil {
				d.log.Error("access log", "err", err)
			}
			return
		}
	}
}

// logRequest records a request the front answered, as the S3 website
// endpoint would log it. A miss answered directly (ServeMissesDirectly) is
// recorded as the bucket records the request for a key it does not hold,
// 404 NoSuchKey, whatever the front answered: on AWS, behind a CloudFront
// origin group, the bucket logs CloudFront's request to it that way before
// CloudFront asks the responder, and the analyzer counts a miss. Logged as
// the 200 the browser got, it would be counted as a hit.
func (s *Server) logRequest(r *http.Request, w *statusWriter, key string, start time.Time) {
	if s.cfg.AccessLog == nil {
		return
	}
	op := "WEBSITE.GET.OBJECT"
	if r.Method == http.MethodHead {
		op = "WEBSITE.HEAD.OBJECT"
	}
	rec := accesslog.Record{
		Time:       start,
		RemoteIP:   remoteIP(r),
		RequestID:  strconv.FormatUint(rand.Uint64(), 16),
		Operation:  op,
		Key:        key,
		RequestURI: r.Method + " " + r.URL.RequestURI() + " " + r.Proto,
		HTTPStatus: w.status,
		BytesSent:  w.bytes, // what went to the client, also for a miss logged as 404
		TotalTime:  time.Since(start),
		Referer:    r.Referer(),
		UserAgent:  r.UserAgent(),
		HostHeader: r.Host,
	}
	if w.missed {
		rec.HTTPStatus = http.StatusNotFound
	}
	if rec.HTTPStatus == http.StatusNotFound {
		rec.ErrorCode = "NoSuchKey"
	}
	s.cfg.AccessLog.Log(&rec)
}

// writerAgent is the User-Agent of the records of s3thumb's own writes:
// the analyzer takes writes by s3thumb's agent for thumbnails
// (thumbtag.ByAgent), anyone else's for uploads.
const writerAgent = "s3thumb-front app/" + thumbtag.Agent

// LoggedStore is a store whose writes and deletes are also access log
// records, as S3 logs the PUTs and DELETEs of s3thumb's roles. Serve wraps
// its store in one when the front keeps an access log, so that what the
// responder stores back and what the in-process workers make both reach
// the analyzer, as they would from a bucket's logs.
type LoggedStore struct {
	store.Store
	Log AccessLogger
}

// Put writes and, once written, logs a REST.PUT.OBJECT.
func (s LoggedStore) Put(ctx context.Context, key string, body []byte, opts store.PutOptions) error {
	if err := s.Store.Put(ctx, key, body, opts); err != nil {
		return err
	}
	s.log("REST.PUT.OBJECT", key, int64(len(body)))
	return nil
}

// Delete deletes and logs a REST.DELETE.OBJECT.
func (s LoggedStore) Delete(ctx context.Context, key string) error {
	if err := s.Store.Delete(ctx, key); err != nil {
		return err
	}
	s.log("REST.DELETE.OBJECT", key, 0)
	return nil
}

// DeleteIfMatch deletes the version etag and logs a REST.DELETE.OBJECT.
func (s LoggedStore) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if err := s.Store.DeleteIfMatch(ctx, key, etag); err != nil {
		return err
	}
	s.log("REST.DELETE.OBJECT", key, 0)
	return nil
}

func (s LoggedStore) log(op, key string, size int64) {
	s.Log.Log(&accesslog.Record{
		Time:       time.Now(),
		RequestID:  strconv.FormatUint(rand.Uint64(), 16),
		Operation:  op,
		Key:        key,
		HTTPStatus: http.StatusOK,
		ObjectSize: size,
		UserAgent:  writerAgent,
	})
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
