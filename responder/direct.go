package responder

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// handleDirect answers GET and HEAD /KEY on the responder's own listener
// when it runs without the front: the route a CDN's origin group fails over
// to when the bucket has no object under a thumbnail's key (CloudFront
// sends the secondary origin the viewer's path, with the origin's own Host).
// It makes the thumbnail as /resize does and answers with it in the same
// response. It answers thumbnails only: a key that is not a thumbnail key
// (an original, anything else) is 404 without a look at the store, and an
// object stored under a thumbnail key is served only if it is a thumbnail,
// so that no original, public or private, is ever served through it.
func (s *Server) handleDirect(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		s.fail(w, r, fmt.Errorf("%w: name a thumbnail, e.g. /photos/earth_200x200.jpg", store.ErrNotFound))
		return
	}
	k, err := thumbkey.Parse(key)
	switch {
	case errors.Is(err, thumbkey.ErrNotThumbnail):
		s.fail(w, r, fmt.Errorf("%w: %s is not a thumbnail key; only thumbnails are served here", store.ErrNotFound, key))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.serveThumbnail(w, r, k, s.serveStoredThumbnail)
}

// serveStoredThumbnail answers with the object stored under key only if it
// is a thumbnail (it carries the thumbnail tag): an original named like a
// thumbnail (banner_1200x630.jpg) is answered 404. It writes nothing when
// it returns an error.
func (s *Server) serveStoredThumbnail(w http.ResponseWriter, r *http.Request, key string) error {
	isThumb, err := s.maker.IsThumbnail(r.Context(), key)
	if err != nil {
		return fmt.Errorf("stored %s: %w", key, err)
	}
	if !isThumb {
		return fmt.Errorf("%w: no thumbnail %s", store.ErrNotFound, key)
	}
	return s.serveStored(w, r, key)
}
