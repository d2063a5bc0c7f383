package responder

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the responder's Prometheus series.
type metrics struct {
	requests          *prometheus.CounterVec
	resizeSeconds     prometheus.Histogram
	originalBytes     prometheus.Counter
	thumbnailBytes    prometheus.Counter
	coalesced         prometheus.Counter
	shed              prometheus.Counter
	storeBackFailures prometheus.Counter
	failures          *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3thumb_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		resizeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "s3thumb_resize_duration_seconds",
			Help:    "Time to decode, resize and encode one thumbnail.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		originalBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3thumb_original_bytes_total",
			Help: "Bytes of originals read to make thumbnails.",
		}),
		thumbnailBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3thumb_thumbnail_bytes_total",
			Help: "Bytes of thumbnails made.",
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3thumb_coalesced_requests_total",
			Help: "Requests that waited for another request's resize of the same key instead of starting their own.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3thumb_shed_requests_total",
			Help: "Requests answered 503 because every resize slot and the wait queue were full.",
		}),
		storeBackFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3thumb_store_back_failures_total",
			Help: "Thumbnails served but not stored back because the write failed.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3thumb_http_failures_total",
			Help: "Thumbnail requests answered with an error, by reason (damaged_image, original_missing, store_unavailable, ...).",
		}, []string{"reason"}),
	}
	for _, a := range answers {
		m.failures.WithLabelValues(a.reason) // every series from the start, at 0
	}
	for _, c := range []prometheus.Collector{m.requests, m.resizeSeconds, m.originalBytes, m.thumbnailBytes, m.coalesced, m.shed, m.storeBackFailures, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// count wraps h to count its answers under route; after counting, done
// (if not nil) sees the request and what was answered.
func (m *metrics) count(route string, h http.HandlerFunc, done func(*http.Request, *statusWriter, time.Time)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		if done != nil {
			done(r, sw, start)
		}
	}
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	bytes  int64 // body bytes written
	// missed is set by a handler that answered a request for an object
	// the store did not hold with something else than the bucket's own
	// answer (the front's direct answer to a miss): the access log
	// records the miss (logRequest).
	missed bool
}

// noteMiss marks the request answered through w as a miss of the store,
// whatever the answer (see statusWriter.missed).
func noteMiss(w http.ResponseWriter) {
	for {
		switch x := w.(type) {
		case *statusWriter:
			x.missed = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's ReadFrom (sendfile from a file
// store) reachable through the wrapper.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wrote = true
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
