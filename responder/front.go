package responder

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/acceptformat"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// handleFront serves stored objects at /KEY, as the bucket's website
// endpoint does, and sends a missing thumbnail to /resize with a 302, as the
// bucket's routing rule does, or with ServeMissesDirectly makes it and
// answers with it at once. Any other missing key is 404.
func (s *Server) handleFront(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		plain(w, http.StatusNotFound, "s3thumb: name an object, e.g. /earth_200x200.jpg")
		return
	}
	if err := thumbkey.Validate(key); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(s.cfg.AcceptFormats) > 0 {
		var ok bool
		if key, ok = s.negotiate(w, r, key); !ok {
			return
		}
	}
	err := s.serveStored(w, r, key)
	switch {
	case err == nil:
		return
	case !errors.Is(err, store.ErrNotFound):
		s.fail(w, r, err)
		return
	}
	k, err := thumbkey.Parse(key)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: no object %s", store.ErrNotFound, key))
		return
	}
	if s.cfg.ServeMissesDirectly {
		noteMiss(w) // logged as the bucket logs it: 404, whatever is answered
		s.serveThumbnail(w, r, k, s.serveStored)
		return
	}
	w.Header().Set("Location", resizeURL(key))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// negotiate returns the key a front request for key is answered with under
// Config.AcceptFormats: the same thumbnail in the format the request's
// Accept header prefers (package acceptformat), when key is a thumbnail key
// naming JPEG; then the answer says Vary: Accept. An object stored under key
// without the thumbnail tag is an original named like a thumbnail: it is
// answered as it is. The other format's key is taken only when it is made
// of the same original: kleiber_200x200.webp is made of kleiber.webp when
// there is one (a thumbnail's own extension is looked for first), another
// picture than kleiber_200x200.jpg, made of kleiber.jpg. ok is false when
// negotiate has answered (an error).
func (s *Server) negotiate(w http.ResponseWriter, r *http.Request, key string) (string, bool) {
	asked, err := thumbkey.Parse(key)
	if err != nil || asked.Format() != thumbkey.JPEG {
		return key, true
	}
	w.Header().Add("Vary", "Accept")
	k, ok := acceptformat.Rewrite(key, strings.Join(r.Header.Values("Accept"), ","), s.cfg.AcceptFormats)
	if !ok {
		return key, true
	}
	thumb, err := thumbtag.Check(r.Context(), s.store, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.fail(w, r, err)
		return "", false
	case !thumb:
		return key, true
	}
	same, err := s.sameOriginal(r, asked, k)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	if !same {
		return key, true
	}
	return k.String(), true
}

// sameOriginal reports whether the thumbnails a and b are made of one
// original (both have none: false, and a's own answer says so).
func (s *Server) sameOriginal(r *http.Request, a, b thumbkey.Key) (bool, error) {
	var orig [2]string
	for i, k := range []thumbkey.Key{a, b} {
		o, err := s.maker.OriginalOf(r.Context(), k)
		switch {
		case errors.Is(err, thumbnail.ErrOriginalMissing), errors.Is(err, thumbkey.ErrNotThumbnail):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("original of %s: %w", k, err)
		}
		orig[i] = o
	}
	return orig[0] == orig[1], nil
}

// resizeURL is where a missing thumbnail is sent, the same URL the S3
// routing rule (ReplaceKeyPrefixWith "resize?src=") builds.
func resizeURL(key string) string {
	return "/resize?src=" + strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// serveStored answers with a stored object. It writes nothing when it
// returns an error, so the caller can still choose the answer.
func (s *Server) serveStored(w http.ResponseWriter, r *http.Request, key string) error {
	obj, err := s.store.Get(r.Context(), key)
	if err != nil {
		return err
	}
	defer obj.Body.Close()
	h := w.Header()
	ctype := obj.ContentType
	if ctype == "" {
		ctype = mime.TypeByExtension(path.Ext(key))
	}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	// The type is the one stored, never guessed from the bytes; what is
	// not an image (HTML, SVG, anything a writable store may hold) runs no
	// script and reaches no cookie of the image host.
	h.Set("X-Content-Type-Options", "nosniff")
	if !isRasterImage(ctype) {
		h.Set("Content-Security-Policy", "sandbox")
	}
	if obj.ETag != "" {
		h.Set("ETag", obj.ETag)
	}
	if obj.CacheControl != "" {
		h.Set("Cache-Control", obj.CacheControl)
	}
	if !obj.LastModified.IsZero() {
		h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	}
	if etagMatches(r.Header.Get("If-None-Match"), obj.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	s.limitWrite(w)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		if _, err := io.Copy(w, obj.Body); err != nil {
			s.log.DebugContext(r.Context(), "copy to client stopped", "key", key, "err", err)
		}
	}
	return nil
}

// isRasterImage reports whether a content type is an image a browser shows
// without running anything: image/* but SVG, which may carry scripts.
func isRasterImage(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && strings.HasPrefix(mt, "image/") && mt != "image/svg+xml"
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	if header == "" || etag == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for candidate := range strings.SplitSeq(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(candidate), "W/") == want {
			return true
		}
	}
	return false
}

// limitWrite bounds the time an answer may take to write, so that a client
// that stops reading cannot hold a goroutine and an open object forever.
func (s *Server) limitWrite(w http.ResponseWriter) {
	// Writers that cannot set deadlines (test recorders) are fine without.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
}
