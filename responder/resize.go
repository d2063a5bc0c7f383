package responder

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// handleResize answers /resize?src=KEY (and /resize.php?src=KEY, the path
// that routing rules written for the 2017 PHP sample point at): it makes the
// thumbnail, answers with it and stores it back.
func (s *Server) handleResize(w http.ResponseWriter, r *http.Request) {
	src := r.URL.Query().Get("src")
	if src == "" {
		s.fail(w, r, fmt.Errorf("%w: missing src parameter: ask for /resize?src=photos/earth_200x200.jpg", thumbkey.ErrInvalidKey))
		return
	}
	k, err := thumbkey.Parse(strings.TrimPrefix(src, "/"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveThumbnail(w, r, k, s.serveStored)
}

// storedAnswer answers with a thumbnail that was already stored when a
// request for it came; it writes nothing when it returns an error.
type storedAnswer func(w http.ResponseWriter, r *http.Request, key string) error

// serveThumbnail makes the thumbnail k, answers with it and stores it back:
// the one path of /resize, of the front's direct answer to a miss and of
// /KEY on the responder's own listener. Concurrent requests for one key
// share one flight; a thumbnail found stored is answered by stored.
func (s *Server) serveThumbnail(w http.ResponseWriter, r *http.Request, k thumbkey.Key, stored storedAnswer) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()

	key := k.String()
	f, joined := s.flights.do(key, func() (*thumbnail.Result, error) {
		// The flight outlives a client that hangs up: others may be
		// waiting for it, and the stored thumbnail serves the next request.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RequestTimeout)
		defer cancel()
		return s.ensure(fctx, k)
	})
	if joined {
		s.metrics.coalesced.Inc()
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		if r.Context().Err() != nil {
			return // the client has gone; nobody reads an answer
		}
		s.fail(w, r, fmt.Errorf("wait for %s: %w", key, ctx.Err()))
		return
	}
	if f.err != nil {
		s.fail(w, r, f.err)
		return
	}
	if f.res.Existing != nil {
		if err := stored(w, r, key); err != nil {
			s.fail(w, r, err)
		}
		return
	}
	s.serveMade(w, r, f.res)
}

// ensure runs one flight: the maker's Ensure, with the metrics and logs it
// deserves, once per flight however many requests share it.
func (s *Server) ensure(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
	res, err := s.maker.Ensure(ctx, k)
	if err != nil {
		return nil, err
	}
	if res.Existing != nil {
		return res, nil
	}
	s.metrics.resizeSeconds.Observe(res.ResizeTime.Seconds())
	s.metrics.originalBytes.Add(float64(res.OriginalBytes))
	s.metrics.thumbnailBytes.Add(float64(len(res.Image.Data)))
	if res.SaveErr != nil {
		s.metrics.storeBackFailures.Inc()
		s.log.ErrorContext(ctx, "store-back failed; the thumbnail was made but not stored", "key", res.Key, "err", res.SaveErr)
	}
	s.log.DebugContext(ctx, "thumbnail made", "key", res.Key, "original", res.OriginalKey,
		"width", res.Image.Width, "height", res.Image.Height, "bytes", len(res.Image.Data),
		"resize", res.ResizeTime, "stored", res.Stored)
	return res, nil
}

// serveMade answers with a thumbnail made by this request's flight.
func (s *Server) serveMade(w http.ResponseWriter, r *http.Request, res *thumbnail.Result) {
	h := w.Header()
	h.Set("Content-Type", res.ContentType)
	h.Set("ETag", res.ETag)
	if res.CacheControl != "" {
		h.Set("Cache-Control", res.CacheControl)
	}
	if etagMatches(r.Header.Get("If-None-Match"), res.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Image.Data)))
	s.limitWrite(w)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(res.Image.Data)
	}
}

// fail answers with the status answerOf chooses and a one-line reason, and
// counts and logs it once: at info for 4xx (what a developer chasing a
// broken <img> needs), at error for 5xx.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	a := answerOf(err)
	code := a.code
	s.metrics.failures.WithLabelValues(a.reason).Inc()
	level := slog.LevelInfo
	if code >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request refused", "key", requestKey(r), "path", r.URL.Path,
		"status", code, "reason", a.reason, "err", err)
	switch {
	case code == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds())))
		if a.reason != "overloaded" {
			// The store's error stays in the log.
			plain(w, code, "store unavailable; try again later")
			return
		}
		s.metrics.shed.Inc()
	case a.reason == "original_missing" && s.cfg.Fallback != nil:
		h := w.Header()
		h.Set("Content-Type", s.cfg.Fallback.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(s.cfg.Fallback.Data)))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		if r.Method != http.MethodHead {
			w.Write(s.cfg.Fallback.Data)
		}
		return
	case code == http.StatusInternalServerError:
		plain(w, code, "internal error; the server log has the details")
		return
	}
	plain(w, code, err.Error())
}

// requestKey is the key a request names: /resize's src, or the path of
// /KEY.
func requestKey(r *http.Request) string {
	if src := r.URL.Query().Get("src"); src != "" || r.PathValue("key") == "" {
		return src
	}
	return r.PathValue("key")
}
