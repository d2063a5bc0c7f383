// Package responder is the HTTP side of s3thumb. It answers the redirect
// that the S3 website (or our own front) sends for a missing thumbnail: it
// makes the thumbnail, answers with it and stores it back, so the next
// request never reaches us. It also serves the front for a local store,
// health and readiness probes, and Prometheus metrics.
package responder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// Maker ensures a thumbnail exists, tells a stored thumbnail from an
// original named like one, and finds a thumbnail's original
// (thumbnail.Maker).
type Maker interface {
	Ensure(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error)
	IsThumbnail(ctx context.Context, key string) (bool, error)
	// OriginalOf is the key of the original k is made of now
	// (AcceptFormats).
	OriginalOf(ctx context.Context, k thumbkey.Key) (string, error)
}

// Store is what the responder reads from the object store directly: stored
// thumbnails and objects for the front, and readiness.
type Store interface {
	Get(ctx context.Context, key string) (*store.Object, error)
	// Tags tells an original named like a thumbnail from a thumbnail
	// (AcceptFormats).
	Tags(ctx context.Context, key string) (map[string]string, error)
	Ping(ctx context.Context) error
}

// Fallback is an image shown, with status 404, when an original is missing.
type Fallback struct {
	Data        []byte
	ContentType string
}

// Config says how the responder behaves.
type Config struct {
	// RequestTimeout bounds one request: waiting for a resize slot, the
	// resize and the store-back.
	RequestTimeout time.Duration
	// Front serves stored objects at /KEY and redirects a missing thumbnail
	// to /resize, as the S3 website's routing rule does (or, with
	// ServeMissesDirectly, answers with the thumbnail itself).
	Front bool
	// Fallback, when set, is shown for a missing original; never stored.
	Fallback *Fallback
	// RetryAfter is what a shed request is told to wait.
	RetryAfter time.Duration
	// AcceptFormats, when not empty, has the front answer a request for a
	// thumbnail key naming JPEG with the same thumbnail in one of these
	// formats (WebP, AVIF) when the request's Accept header prefers it, as
	// scripts/deploy/accept-format.js does at the edge (package
	// acceptformat). Such answers carry Vary: Accept.
	AcceptFormats []thumbkey.Format
	// AccessLog, when set, receives a record for every request the front
	// answers and every thumbnail stored back.
	AccessLog AccessLogger
	// ServeMissesDirectly answers a missing thumbnail at /KEY with the
	// thumbnail itself, made as /resize makes it, in the same response: the
	// front does so instead of redirecting, and without the front the
	// responder answers thumbnails (only) at /KEY, the path a CDN's origin
	// group fails over to.
	ServeMissesDirectly bool
}

// DefaultConfig returns the defaults the command line shows.
func DefaultConfig() Config {
	return Config{RequestTimeout: 30 * time.Second, RetryAfter: time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("request timeout %s: must be positive", c.RequestTimeout)
	}
	if c.RetryAfter < time.Second {
		return fmt.Errorf("retry-after %s: must be at least 1s", c.RetryAfter)
	}
	return nil
}

// Server is the responder. Create it with New; serve Handler; after the
// HTTP server has shut down, call Wait so that flights in progress finish
// their store-back.
type Server struct {
	cfg     Config
	maker   Maker
	store   Store
	log     *slog.Logger
	metrics *metrics
	flights coalescer
	handler http.Handler
}

// New returns a responder. Its metrics are registered on reg; the /metrics
// route serves gather.
func New(cfg Config, maker Maker, st Store, log *slog.Logger, reg prometheus.Registerer, gather prometheus.Gatherer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("responder config: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	s := &Server{cfg: cfg, maker: maker, store: st, log: log, metrics: m}
	s.handler = s.routes(promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	return s, nil
}

func (s *Server) routes(metricsHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /resize", s.metrics.count("resize", s.handleResize, nil))
	mux.Handle("GET /resize.php", s.metrics.count("resize", s.handleResize, nil))
	mux.Handle("GET /healthz", http.HandlerFunc(handleHealth))
	mux.Handle("GET /readyz", http.HandlerFunc(s.handleReady))
	mux.Handle("GET /metrics", metricsHandler)
	switch {
	case s.cfg.Front:
		mux.Handle("GET /{key...}", s.metrics.count("front", s.handleFront, func(r *http.Request, w *statusWriter, start time.Time) {
			s.logRequest(r, w, r.PathValue("key"), start)
		}))
	case s.cfg.ServeMissesDirectly:
		mux.Handle("GET /{key...}", s.metrics.count("direct", s.handleDirect, nil))
	}
	return mux
}

// ServeHTTP serves the responder's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Wait blocks until every resize in flight has finished and stored its
// thumbnail back. Call it after http.Server.Shutdown.
func (s *Server) Wait() { s.flights.wait() }

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	plain(w, http.StatusOK, "ok")
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		// The reason stays in the log: a probe's answer may be public.
		s.log.WarnContext(ctx, "store not reachable", "err", err)
		plain(w, http.StatusServiceUnavailable, "store not reachable")
		return
	}
	plain(w, http.StatusOK, "ready")
}

// plain answers with a one-line text message.
func plain(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if code >= 300 {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// answer is how an error from the thumbnail path is answered: the HTTP
// status and the reason it is counted and logged under.
type answer struct {
	code   int
	reason string
}

// answers maps the typed errors of the thumbnail path to their answers, in
// the order they are looked for (an error may wrap two: ErrDamagedImage
// wraps ErrUnsupportedImage, a store error may carry a deadline).
var answers = []struct {
	err error
	answer
}{
	{thumbkey.ErrInvalidKey, answer{http.StatusBadRequest, "invalid_key"}},
	{thumbkey.ErrNotThumbnail, answer{http.StatusBadRequest, "not_thumbnail"}}, // a thumbnail's thumbnail too
	{policy.ErrSizeNotAllowed, answer{http.StatusForbidden, "size_not_allowed"}},
	{thumbnail.ErrOriginalMissing, answer{http.StatusNotFound, "original_missing"}},
	{store.ErrNotFound, answer{http.StatusNotFound, "not_found"}},
	{thumbnail.ErrTooMuchMemory, answer{http.StatusRequestEntityTooLarge, "too_much_memory"}}, // before ErrOriginalTooLarge, which it wraps
	{thumbnail.ErrOriginalTooLarge, answer{http.StatusRequestEntityTooLarge, "original_too_large"}},
	{imaging.ErrTooManyPixels, answer{http.StatusUnprocessableEntity, "too_many_pixels"}},
	{imaging.ErrDamagedImage, answer{http.StatusUnprocessableEntity, "damaged_image"}},
	{imaging.ErrUnsupportedImage, answer{http.StatusUnprocessableEntity, "unsupported_image"}},
	{thumbnail.ErrOverloaded, answer{http.StatusServiceUnavailable, "overloaded"}},
	{store.ErrUnavailable, answer{http.StatusServiceUnavailable, "store_unavailable"}},
	{context.DeadlineExceeded, answer{http.StatusGatewayTimeout, "timeout"}},
}

// answerOf chooses the answer for an error from the thumbnail path; it is
// the one place that does.
func answerOf(err error) answer {
	for _, a := range answers {
		if errors.Is(err, a.err) {
			return a.answer
		}
	}
	return answer{http.StatusInternalServerError, "error"}
}

// statusOf is the HTTP status answerOf chooses.
func statusOf(err error) int { return answerOf(err).code }
