package thumbnail

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// followAttempts is how many times Follow reads a thumbnail again when it
// changed between reading and writing (another Follow of the same key won).
const followAttempts = 3

// Follow brings the stored thumbnail k in line with its original, after the
// original was replaced or deleted. It reads the thumbnail and its tag,
// then finds its original as Ensure would:
//
//   - nothing stored under k: nothing to do (an empty Result);
//   - an object without the thumbnail tag: an original named like a
//     thumbnail, never touched (ErrUntagged);
//   - made of the original stored now (the source key and ETag it records
//     match; one that records none, written after the original): left as it
//     is (Existing);
//   - the original gone, or one that can no longer make it (damaged, too
//     large, a size the policy now refuses): deleted (Deleted);
//   - otherwise made again from the original and written over the version
//     read, with If-Match (Remade).
//
// Deletes and writes are conditional on the ETag read, so an upload under
// k in between is never replaced; when another Follow wrote k first, Follow
// reads it again and decides anew. It is idempotent.
func (m *Maker) Follow(ctx context.Context, k thumbkey.Key) (*Result, error) {
	for range followAttempts {
		res, err := m.follow(ctx, k)
		if !errors.Is(err, store.ErrChanged) {
			return res, err
		}
	}
	return nil, fmt.Errorf("%w: %s kept changing while it was followed", ErrChanged, k)
}

func (m *Maker) follow(ctx context.Context, k thumbkey.Key) (*Result, error) {
	key := k.String()
	thumb, err := m.store.Head(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return &Result{Key: key}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", key, err)
	}
	// The tag is read after the attributes: it describes the version read
	// or a later one, and a later one fails the conditional write.
	isThumb, err := thumbtag.Check(ctx, m.store, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Result{Key: key}, nil
	case err != nil:
		return nil, fmt.Errorf("follow %s: %w", key, err)
	case !isThumb:
		return nil, fmt.Errorf("%w: %s has no %s=%s tag", ErrUntagged, key, thumbtag.Key, thumbtag.Value)
	}
	res := &Result{Key: key, Existing: &thumb}
	orig, err := m.currentOriginal(ctx, k)
	switch {
	case errors.Is(err, ErrOriginalMissing), errors.Is(err, ErrThumbnailOfThumbnail):
		return m.remove(ctx, res, err)
	case err != nil:
		return nil, fmt.Errorf("follow %s: %w", key, err)
	case thumbtag.MadeOf(thumb.Version(), orig.Version()):
		return res, nil
	}
	if err := m.cfg.Policy.Check(k); err != nil {
		return m.remove(ctx, res, err)
	}
	made, err := m.make(ctx, k)
	switch {
	case cannotMake(err):
		return m.remove(ctx, res, err)
	case err != nil:
		return nil, fmt.Errorf("follow %s: %w", key, err)
	}
	err = m.store.Put(ctx, key, made.Image.Data, store.PutOptions{
		ContentType:  made.ContentType,
		CacheControl: m.cfg.CacheControl,
		StorageClass: m.cfg.StorageClass,
		Tags:         m.cfg.Tags,
		Metadata:     sourceMeta(made),
		IfMatch:      thumb.ETag,
	})
	if err != nil {
		return nil, fmt.Errorf("follow %s: rewrite: %w", key, err)
	}
	made.Existing, made.Stored, made.Remade = &thumb, true, true
	m.log.InfoContext(ctx, "thumbnail remade from its changed original", "key", key, "original", made.OriginalKey)
	return made, nil
}

// remove deletes the thumbnail res describes, if it is still the version
// read; why says why it goes.
func (m *Maker) remove(ctx context.Context, res *Result, why error) (*Result, error) {
	if err := m.store.DeleteIfMatch(ctx, res.Key, res.Existing.ETag); err != nil {
		return nil, fmt.Errorf("follow %s: delete: %w", res.Key, err)
	}
	res.Deleted = true
	m.log.InfoContext(ctx, "thumbnail deleted: its original cannot make it any more", "key", res.Key, "why", why)
	return res, nil
}

// cannotMake reports whether err says the original cannot make the
// thumbnail, whoever tries: a thumbnail made of an older version is then
// deleted rather than kept.
func cannotMake(err error) bool {
	for _, target := range []error{
		ErrOriginalMissing, ErrOriginalTooLarge, ErrThumbnailOfThumbnail, policy.ErrSizeNotAllowed,
		imaging.ErrUnsupportedImage, imaging.ErrTooManyPixels, imaging.ErrInvalidOptions,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// Followed is what FollowOriginal did to an original's thumbnails.
type Followed struct {
	Remade, Deleted []string // keys
	Current         int      // already made of the original stored now
}

// Changed is the keys of the thumbnails remade or deleted.
func (f Followed) Changed() []string {
	return append(append([]string(nil), f.Remade...), f.Deleted...)
}

// FollowOriginal follows every stored thumbnail of original (Follow), after
// the original was uploaded again or deleted: one listing of the
// original's ThumbnailPrefix, keeping the keys the grammar says may be
// made of it (IsThumbnailOf). Objects under those keys without the
// thumbnail tag are originals and left alone. It goes on past a thumbnail
// it cannot follow and returns every such error, joined; following again
// is harmless.
func (m *Maker) FollowOriginal(ctx context.Context, original string) (Followed, error) {
	var f Followed
	o, ok := thumbkey.ParseOriginal(original)
	if !ok {
		return f, nil // no image: no thumbnails
	}
	var keys []thumbkey.Key
	err := m.store.List(ctx, o.ThumbnailPrefix(), "", func(a store.Attrs) error {
		if k, err := thumbkey.Parse(a.Key); err == nil && k.IsThumbnailOf(o, m.cfg.SourceExts) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("thumbnails of %s: %w", original, err)
	}
	var errs []error
	for _, k := range keys {
		res, err := m.Follow(ctx, k)
		switch {
		case errors.Is(err, ErrUntagged):
		case err != nil:
			errs = append(errs, err)
		case res.Remade:
			f.Remade = append(f.Remade, res.Key)
		case res.Deleted:
			f.Deleted = append(f.Deleted, res.Key)
		case res.Existing != nil:
			f.Current++
		}
	}
	return f, errors.Join(errs...)
}
