package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/s3thumb/s3thumb/internal/layout"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
)

// lockKey is the object a run holds the lock in.
const lockKey = layout.AnalyzerLock

// ErrLocked means another run holds the analyzer's lock.
var ErrLocked = errors.New("another analyzer run holds the lock")

// LockError says who holds the lock and until when.
type LockError struct {
	Holder  string
	Expires time.Time
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s (%s, until %s); if that run died, the lock expires by itself, or delete %s from the state store",
		ErrLocked, e.Holder, e.Expires.Format(time.RFC3339), lockKey)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockError) Unwrap() error { return ErrLocked }

type lockBody struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// acquireLock writes the lock object with If-None-Match, so of two runs
// exactly one gets it. A lock past its expiry (its run died) is taken over
// by a write conditional on that lock's ETag (If-Match), so of two runs
// that find it expired exactly one gets it too. The returned function
// releases the lock if it is still this run's.
func acquireLock(ctx context.Context, st store.Store, owner string, now time.Time, ttl time.Duration) (func(context.Context) error, error) {
	body, err := json.Marshal(lockBody{Owner: owner, Expires: now.Add(ttl).UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	put := func(opts store.PutOptions) error {
		opts.ContentType = "application/json"
		return st.Put(ctx, lockKey, body, opts)
	}
	err = put(store.PutOptions{IfNoneMatch: true})
	if errors.Is(err, store.ErrExists) {
		held, etag, rerr := readLock(ctx, st)
		switch {
		case errors.Is(rerr, store.ErrNotFound): // released meanwhile
			err = put(store.PutOptions{IfNoneMatch: true})
		case rerr != nil:
			return nil, rerr
		case now.Before(held.Expires):
			return nil, &LockError{Holder: held.Owner, Expires: held.Expires}
		default:
			err = put(store.PutOptions{IfMatch: etag})
		}
		if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrChanged) {
			return nil, &LockError{Holder: "a run that took it over at the same moment", Expires: now.Add(ttl)}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("write lock %s: %w", lockKey, err)
	}
	return func(ctx context.Context) error {
		held, etag, err := readLock(ctx, st)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if held.Owner != owner {
			return fmt.Errorf("lock %s is now held by %s, not released", lockKey, held.Owner)
		}
		if err := st.DeleteIfMatch(ctx, lockKey, etag); err != nil {
			return fmt.Errorf("release lock: %w", err)
		}
		return nil
	}, nil
}

// readLock reads the lock object and its ETag.
func readLock(ctx context.Context, st store.Store) (lockBody, string, error) {
	var l lockBody
	obj, err := st.Get(ctx, lockKey)
	if err != nil {
		return l, "", fmt.Errorf("read lock: %w", err)
	}
	defer obj.Body.Close()
	b, err := store.ReadAll(obj.Body, nil, 4096)
	if err != nil && !errors.Is(err, store.ErrTooLarge) { // too large: unreadable, as below
		return l, "", fmt.Errorf("read lock: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		// An unreadable lock is treated as expired: it protects nothing.
		return lockBody{Owner: "unreadable lock"}, obj.ETag, nil
	}
	return l, obj.ETag, nil
}
