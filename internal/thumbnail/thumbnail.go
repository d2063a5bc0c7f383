// Package thumbnail makes one thumbnail and stores it back: size policy,
// then the original from the store, then the resize core, then a conditional
// write under the thumbnail's key with its tag. The responder and the worker
// both call Maker.Ensure, so neither re-implements any of these steps.
package thumbnail

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

var (
	// ErrOriginalMissing means no original exists for the thumbnail key
	// under any of the source extensions.
	ErrOriginalMissing = errors.New("original not found")
	// ErrOriginalTooLarge means the original has more bytes than allowed.
	ErrOriginalTooLarge = errors.New("original too large")
	// ErrUntagged means the object stored under a thumbnail key is not
	// a thumbnail: it lacks the thumbnail tag, so it is an original that
	// only has a thumbnail's name (see package thumbtag). It is never
	// rewritten.
	ErrUntagged = errors.New("stored object is an original (no thumbnail tag), not a thumbnail")
	// ErrThumbnailOfThumbnail means the key's original is itself a
	// thumbnail (earth_100x100_20x20.jpg of the stored, tagged
	// earth_100x100.jpg): a thumbnail is never an original. It wraps
	// thumbkey.ErrNotThumbnail.
	ErrThumbnailOfThumbnail = fmt.Errorf("%w: its original is a thumbnail", thumbkey.ErrNotThumbnail)
	// ErrChanged means the stored thumbnail was replaced between reading
	// and rewriting it; the newer version is left as it is.
	ErrChanged = errors.New("stored object changed while it was refreshed")
)

// Store is what the maker needs of an object store.
type Store interface {
	Get(ctx context.Context, key string) (*store.Object, error)
	Head(ctx context.Context, key string) (store.Attrs, error)
	Put(ctx context.Context, key string, body []byte, opts store.PutOptions) error
	Tags(ctx context.Context, key string) (map[string]string, error)
	DeleteIfMatch(ctx context.Context, key, etag string) error
	List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error
}

// Resizer is the image engine.
type Resizer interface {
	Thumbnail(ctx context.Context, data []byte, opts imaging.Options) (imaging.Image, error)
	// Cost is the memory making the thumbnail holds, from the header.
	Cost(data []byte, opts imaging.Options) (int64, error)
}

// Gate bounds the expensive part of the work. Admit either gives the job a
// place (to read its original, then wait for a resize slot with the
// ticket) or fails fast when the caller should shed load; Reserve takes a
// share of the memory budget before decoding. Each release must be called
// once.
type Gate interface {
	Admit(ctx context.Context) (Ticket, error)
	Reserve(ctx context.Context, bytes int64) (release func(), err error)
}

// WorkEstimator is a Resizer that estimates, from the header, how long a
// thumbnail takes to make: the gate serves the shorter jobs first.
type WorkEstimator interface {
	Work(data []byte, opts imaging.Options) (time.Duration, error)
}

// Config says how thumbnails are made and stored.
type Config struct {
	Policy policy.Policy
	// DefaultMode applies to keys that name no mode.
	DefaultMode thumbkey.Mode
	// SourceExts are the extensions tried for the original after the
	// thumbnail's own.
	SourceExts []string
	// MaxSourceBytes is the largest original read.
	MaxSourceBytes int64
	// Quality is the encoder quality per output format (0: the default).
	Quality    map[imaging.Format]int
	Background imaging.RGB
	Enlarge    bool

	// StoreBack writes each new thumbnail under its key. Off, every request
	// makes the thumbnail anew (useful only for benchmarks).
	StoreBack    bool
	CacheControl string
	StorageClass string
	Tags         map[string]string
}

// DefaultConfig returns the defaults that the command line also shows.
func DefaultConfig() Config {
	return Config{
		Policy:         policy.Policy{MaxDimension: policy.DefaultMaxDimension},
		MaxSourceBytes: 100 << 20,
		DefaultMode:    thumbkey.ModeFill,
		SourceExts:     slices.Clone(thumbkey.DefaultSourceExts),
		Quality:        map[imaging.Format]int{imaging.JPEG: 80, imaging.WebP: 80, imaging.AVIF: 60},
		Background:     imaging.RGB{R: 255, G: 255, B: 255},
		StoreBack:      true,
		CacheControl:   "public, max-age=86400",
		StorageClass:   "STANDARD",
		Tags:           thumbtag.Tags(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if c.Policy.MaxDimension > imaging.MaxDimension {
		return fmt.Errorf("max dimension %d: must be at most %d, the largest image the encoders write", c.Policy.MaxDimension, imaging.MaxDimension)
	}
	if _, err := thumbkey.ParseMode(string(c.DefaultMode)); err != nil {
		return fmt.Errorf("default mode: %w", err)
	}
	if len(c.SourceExts) == 0 {
		return errors.New("source extensions: need at least one")
	}
	for _, ext := range c.SourceExts {
		if _, ok := thumbkey.FormatOf(ext); !ok {
			return fmt.Errorf("source extension %q: not an image extension (jpg, jpeg, png, webp, avif)", ext)
		}
	}
	for f, q := range c.Quality {
		if q < 0 || q > 100 {
			return fmt.Errorf("%s quality %d: must be from 1 to 100", f, q)
		}
	}
	if !thumbtag.Is(c.Tags) {
		return fmt.Errorf("tags %v: must hold %s=%s, which tells thumbnails from originals", c.Tags, thumbtag.Key, thumbtag.Value)
	}
	if c.MaxSourceBytes < 1 {
		return fmt.Errorf("max source bytes %d: must be at least 1", c.MaxSourceBytes)
	}
	return nil
}

// Maker makes thumbnails. It is safe for concurrent use.
type Maker struct {
	store   Store
	resizer Resizer
	gate    Gate // nil: no bound
	cfg     Config
	log     *slog.Logger
}

// NewMaker returns a Maker; gate may be nil.
func NewMaker(st Store, resizer Resizer, gate Gate, cfg Config, log *slog.Logger) (*Maker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("thumbnail config: %w", err)
	}
	return &Maker{store: st, resizer: resizer, gate: gate, cfg: cfg, log: log}, nil
}

// IsThumbnail reports whether the object stored under key is a thumbnail:
// whether it carries the thumbnail tag (package thumbtag). A missing object
// gives an error wrapping store.ErrNotFound.
func (m *Maker) IsThumbnail(ctx context.Context, key string) (bool, error) {
	return thumbtag.Check(ctx, m.store, key)
}

// Policy is the size policy the maker enforces.
func (m *Maker) Policy() policy.Policy { return m.cfg.Policy }

// Result is what Ensure did.
type Result struct {
	Key string
	// Existing is set when the thumbnail was already stored; then nothing
	// was made and Image is empty.
	Existing *store.Attrs

	Image        imaging.Image
	ContentType  string
	ETag         string // quoted MD5 of the data, as S3 computes it
	CacheControl string
	// OriginalKey, OriginalETag and OriginalBytes say what the thumbnail
	// was made from.
	OriginalKey   string
	OriginalETag  string
	OriginalBytes int
	ResizeTime    time.Duration

	// Stored is true when this call wrote the thumbnail and left it
	// stored; false with a nil SaveErr means store-back is off or another
	// writer won. A thumbnail whose original changed while it was made is
	// deleted again (SaveErr says so, CacheControl is no-store).
	Stored bool
	// Refreshed is true when Refresh wrote a stored thumbnail again (then
	// Existing holds its attributes from before).
	Refreshed bool
	// Remade is true when Follow wrote a thumbnail anew from its changed
	// original over the version it read (Existing); Deleted when Follow
	// deleted it because its original is gone or can no longer make it.
	Remade, Deleted bool
	// SaveErr is a failed store-back. The thumbnail is still good to serve.
	SaveErr error
}

// Ensure makes sure the thumbnail for k exists: it checks the size policy,
// returns the stored thumbnail's attributes when one exists, and otherwise
// makes it from the original and stores it back.
func (m *Maker) Ensure(ctx context.Context, k thumbkey.Key) (*Result, error) {
	if err := m.cfg.Policy.Check(k); err != nil {
		return nil, err
	}
	key := k.String()
	if m.cfg.StoreBack {
		attrs, err := m.store.Head(ctx, key)
		if err == nil {
			return &Result{Key: key, Existing: &attrs}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("look for stored thumbnail: %w", err)
		}
	}
	res, err := m.make(ctx, k)
	if err != nil {
		return nil, err
	}
	if m.cfg.StoreBack {
		// Stored even when the caller has stopped waiting.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeBackTimeout)
		res.Stored, res.SaveErr = m.save(sctx, res)
		if res.Stored {
			m.checkSource(sctx, k, res)
		}
		cancel()
	}
	return res, nil
}

// checkSource closes the race between a store-back and a change of the
// original: when the original was replaced or deleted after make read it,
// the handling of that change may have looked for the thumbnail before
// this store-back wrote it, and nothing would come back to it. One HEAD
// of the original per store-back tells; if it changed, the thumbnail just
// written is deleted (if it is still the version written), the answer
// made of the old picture is not to be cached (Cache-Control: no-store),
// and the next request makes the thumbnail from the original stored now.
// Deleting needs no resize slot, so it works when the maker sheds load,
// where remaking it would fail and leave the old picture stored.
//
// When the original cannot be looked at (the store failing), the
// thumbnail is deleted too: whether the original changed is unknown, and
// a thumbnail of an old picture would stay until the lifecycle rule
// expires it, while a needless delete costs one remake.
//
// A thumbnail deleted here is not stored: Stored is false and SaveErr
// says why (a worker tries its job again, and makes the thumbnail of the
// original stored now). When another writer replaced it first, it is left
// to that writer, as when a store-back loses to another.
func (m *Maker) checkSource(ctx context.Context, k thumbkey.Key, res *Result) {
	cur, err := m.currentOriginal(ctx, k)
	var why string
	switch {
	case err == nil && cur.Key == res.OriginalKey && cur.ETag == res.OriginalETag:
		return
	case err == nil:
		why = fmt.Sprintf("its original was replaced (%s %s, made of %s %s)", cur.Key, cur.ETag, res.OriginalKey, res.OriginalETag)
	case errors.Is(err, ErrOriginalMissing), errors.Is(err, ErrThumbnailOfThumbnail):
		why = fmt.Sprintf("its original %s is gone: %v", res.OriginalKey, err)
	default:
		why = fmt.Sprintf("its original could not be checked, so it may have changed: %v", err)
	}
	res.CacheControl = "no-store"
	switch err := m.store.DeleteIfMatch(ctx, res.Key, res.ETag); {
	case errors.Is(err, store.ErrChanged):
		res.Stored = false
		m.log.InfoContext(ctx, "thumbnail made of an old original, already replaced by another writer", "key", res.Key, "why", why)
	case err != nil:
		res.SaveErr = fmt.Errorf("delete %s, just stored, after %s: %w", res.Key, why, err)
	default:
		res.Stored = false
		res.SaveErr = fmt.Errorf("store back %s: deleted again, %s; the next request makes it anew", res.Key, why)
		m.log.InfoContext(ctx, "thumbnail deleted just after its store-back: the next request makes it anew", "key", res.Key, "why", why)
	}
}

// storeBackTimeout bounds a thumbnail's store-back, which does not end with
// the request that made the thumbnail.
const storeBackTimeout = 30 * time.Second

// Refresh writes a stored thumbnail again, unchanged, so that a lifecycle
// rule counting from an object's last write starts its count over while the
// thumbnail is still read. A thumbnail that is not stored is made as Ensure
// makes it (one that a cleanup deleted a moment before comes back, which is
// what refreshing a thumbnail that is still read asks for).
//
// Only a thumbnail is ever rewritten: an object under the key without the
// thumbnail tag is an original named like a thumbnail, and Refresh fails
// with ErrUntagged without writing. The rewrite is conditional on the
// ETag read, so a version uploaded in between is not overwritten
// (ErrChanged).
func (m *Maker) Refresh(ctx context.Context, k thumbkey.Key) (*Result, error) {
	if err := m.cfg.Policy.Check(k); err != nil {
		return nil, err
	}
	if !m.cfg.StoreBack {
		return m.Ensure(ctx, k) // nothing is stored, so nothing expires
	}
	key := k.String()
	obj, err := m.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return m.Ensure(ctx, k)
	}
	if err != nil {
		return nil, fmt.Errorf("get stored thumbnail: %w", err)
	}
	data, err := m.readBody(obj)
	if err != nil {
		return nil, fmt.Errorf("read stored thumbnail %s: %w", key, err)
	}
	// The tags are read after the body: the object they describe is the
	// version read or a later one, and a later one fails the If-Match.
	isThumb, err := thumbtag.Check(ctx, m.store, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: %s was deleted while it was read", ErrChanged, key)
	case err != nil:
		return nil, fmt.Errorf("refresh %s: %w", key, err)
	case !isThumb:
		return nil, fmt.Errorf("%w: %s has no %s=%s tag", ErrUntagged, key, thumbtag.Key, thumbtag.Value)
	}
	res := &Result{Key: key, Existing: &obj.Attrs, ContentType: obj.ContentType, CacheControl: m.cfg.CacheControl}
	err = m.store.Put(ctx, key, data, store.PutOptions{
		ContentType:  obj.ContentType,
		CacheControl: m.cfg.CacheControl,
		StorageClass: m.cfg.StorageClass,
		Tags:         m.cfg.Tags,
		Metadata:     obj.Metadata, // still made of the same original
		IfMatch:      obj.ETag,
	})
	switch {
	case errors.Is(err, store.ErrChanged):
		return nil, fmt.Errorf("%w: %w", ErrChanged, err)
	case err != nil:
		res.SaveErr = fmt.Errorf("rewrite %s: %w", key, err)
		return res, nil
	}
	res.Stored, res.Refreshed = true, true
	return res, nil
}

// make reads the original and resizes it: admitted by the gate before
// reading (a shed request reads nothing), it waits for a resize slot with
// the work the original's header promises.
func (m *Maker) make(ctx context.Context, k thumbkey.Key) (*Result, error) {
	var ticket Ticket
	if m.gate != nil {
		var err error
		if ticket, err = m.gate.Admit(ctx); err != nil {
			return nil, err
		}
		defer ticket.Cancel() // a no-op once it has been used
	}
	orig, data, err := m.readOriginal(ctx, k)
	if err != nil {
		return nil, err
	}
	origKey := orig.Key
	opts := m.options(k)
	if m.gate != nil {
		var work time.Duration
		if est, ok := m.resizer.(WorkEstimator); ok {
			// An unreadable header is refused by Cost below.
			work, _ = est.Work(data, opts)
		}
		releaseSlot, err := ticket.Acquire(ctx, work)
		if err != nil {
			return nil, err
		}
		defer releaseSlot()
		cost, err := m.resizer.Cost(data, opts)
		if err != nil {
			return nil, fmt.Errorf("resize %s: %w", origKey, err)
		}
		release, err := m.gate.Reserve(ctx, cost)
		if err != nil {
			return nil, fmt.Errorf("resize %s: %w", origKey, err)
		}
		defer release()
	}
	start := time.Now()
	// Once the original is read, the resize runs to its end whatever the
	// caller's deadline: the work is paid for, and its thumbnail stored
	// serves the next request.
	img, err := m.resizer.Thumbnail(context.WithoutCancel(ctx), data, opts)
	if err != nil {
		return nil, fmt.Errorf("resize %s: %w", origKey, err)
	}
	sum := md5.Sum(img.Data)
	return &Result{
		Key:           k.String(),
		Image:         img,
		ContentType:   img.Format.ContentType(),
		ETag:          `"` + hex.EncodeToString(sum[:]) + `"`,
		CacheControl:  m.cfg.CacheControl,
		OriginalKey:   origKey,
		OriginalETag:  orig.ETag,
		OriginalBytes: len(data),
		ResizeTime:    time.Since(start),
	}, nil
}

// options turns a key into resize options.
func (m *Maker) options(k thumbkey.Key) imaging.Options {
	w, h := k.PixelBox()
	mode := k.Mode
	if mode == thumbkey.ModeUnset {
		mode = m.cfg.DefaultMode
	}
	fit, focus := imaging.Inside, imaging.Centre
	if mode.Crops() && w > 0 && h > 0 {
		fit = imaging.Cover
	}
	switch mode {
	case thumbkey.ModeSmart:
		focus = imaging.Attention
	case thumbkey.ModeEntropy:
		focus = imaging.Entropy
	}
	format := k.Format()
	return imaging.Options{
		Width:      w,
		Height:     h,
		Fit:        fit,
		Focus:      focus,
		Format:     format,
		Quality:    m.cfg.Quality[format],
		Background: m.cfg.Background,
		Enlarge:    m.cfg.Enlarge,
	}
}

// readOriginal finds the original under the candidate keys and reads it,
// refusing one larger than MaxSourceBytes before reading its body.
func (m *Maker) readOriginal(ctx context.Context, k thumbkey.Key) (store.Attrs, []byte, error) {
	for _, key := range k.OriginalKeys(m.cfg.SourceExts) {
		obj, err := m.store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Attrs{}, nil, fmt.Errorf("get original %s: %w", key, err)
		}
		if err := m.checkOriginal(ctx, key); err != nil {
			obj.Body.Close()
			return store.Attrs{}, nil, err
		}
		data, err := m.readBody(obj)
		if err != nil {
			return store.Attrs{}, nil, fmt.Errorf("read original %s: %w", key, err)
		}
		return obj.Attrs, data, nil
	}
	return store.Attrs{}, nil, fmt.Errorf("%w: tried %s", ErrOriginalMissing, strings.Join(k.OriginalKeys(m.cfg.SourceExts), ", "))
}

// OriginalOf returns the key of the original k is made of, as Ensure would
// find it now, without reading it: ErrOriginalMissing when there is none,
// ErrThumbnailOfThumbnail when it is a thumbnail.
func (m *Maker) OriginalOf(ctx context.Context, k thumbkey.Key) (string, error) {
	a, err := m.currentOriginal(ctx, k)
	if err != nil {
		return "", err
	}
	return a.Key, nil
}

// currentOriginal is the attributes of k's original as readOriginal would
// find it, without reading it.
func (m *Maker) currentOriginal(ctx context.Context, k thumbkey.Key) (store.Attrs, error) {
	for _, key := range k.OriginalKeys(m.cfg.SourceExts) {
		attrs, err := m.store.Head(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Attrs{}, fmt.Errorf("head original %s: %w", key, err)
		}
		if err := m.checkOriginal(ctx, key); err != nil {
			return store.Attrs{}, err
		}
		return attrs, nil
	}
	return store.Attrs{}, fmt.Errorf("%w: tried %s", ErrOriginalMissing, strings.Join(k.OriginalKeys(m.cfg.SourceExts), ", "))
}

// checkOriginal refuses a stored original named like a thumbnail that
// carries the thumbnail tag: a thumbnail is never an original.
func (m *Maker) checkOriginal(ctx context.Context, key string) error {
	if _, err := thumbkey.Parse(key); err != nil {
		return nil // not named like a thumbnail: s3thumb never writes it
	}
	isThumb, err := thumbtag.Check(ctx, m.store, key)
	switch {
	case err != nil:
		return fmt.Errorf("original %s: %w", key, err)
	case isThumb:
		return fmt.Errorf("%w: %s", ErrThumbnailOfThumbnail, key)
	}
	return nil
}

func (m *Maker) readBody(obj *store.Object) ([]byte, error) {
	defer obj.Body.Close()
	limit := m.cfg.MaxSourceBytes
	if obj.Size > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrOriginalTooLarge, obj.Size, limit)
	}
	b, err := store.ReadAll(obj.Body, make([]byte, 0, max(obj.Size, 0)+bytes.MinRead), limit)
	if errors.Is(err, store.ErrTooLarge) {
		return nil, fmt.Errorf("%w: more than %d bytes, the limit", ErrOriginalTooLarge, limit)
	}
	return b, err
}

// save writes the thumbnail with If-None-Match, so that the first writer
// wins; losing that race is not an error.
func (m *Maker) save(ctx context.Context, res *Result) (bool, error) {
	err := m.store.Put(ctx, res.Key, res.Image.Data, store.PutOptions{
		ContentType:  res.ContentType,
		CacheControl: m.cfg.CacheControl,
		StorageClass: m.cfg.StorageClass,
		Tags:         m.cfg.Tags,
		Metadata:     sourceMeta(res),
		IfNoneMatch:  true,
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrExists):
		m.log.DebugContext(ctx, "thumbnail already stored by another writer", "key", res.Key)
		return false, nil
	default:
		return false, fmt.Errorf("store back %s: %w", res.Key, err)
	}
}

// sourceMeta is the metadata that records what res was made of
// (thumbtag.SourceMeta).
func sourceMeta(res *Result) map[string]string {
	return thumbtag.SourceMeta(res.OriginalKey, res.OriginalETag)
}
