package store

import (
	"context"
	"strings"
)

// Sub is the part of a store under a key prefix, as a store of its own:
// its keys are the parent's without the prefix. The analyzer's shards keep
// their state apart this way in one state store.
func Sub(parent Store, prefix string) Store {
	if prefix == "" {
		return parent
	}
	return sub{parent: parent, prefix: prefix}
}

type sub struct {
	parent Store
	prefix string
}

func (s sub) Get(ctx context.Context, key string) (*Object, error) {
	obj, err := s.parent.Get(ctx, s.prefix+key)
	if obj != nil {
		obj.Key = key
	}
	return obj, err
}

func (s sub) Head(ctx context.Context, key string) (Attrs, error) {
	a, err := s.parent.Head(ctx, s.prefix+key)
	if err == nil {
		a.Key = key
	}
	return a, err
}

func (s sub) Put(ctx context.Context, key string, body []byte, opts PutOptions) error {
	return s.parent.Put(ctx, s.prefix+key, body, opts)
}

func (s sub) Tags(ctx context.Context, key string) (map[string]string, error) {
	return s.parent.Tags(ctx, s.prefix+key)
}

func (s sub) Delete(ctx context.Context, key string) error {
	return s.parent.Delete(ctx, s.prefix+key)
}

func (s sub) DeleteIfMatch(ctx context.Context, key, etag string) error {
	return s.parent.DeleteIfMatch(ctx, s.prefix+key, etag)
}

func (s sub) List(ctx context.Context, prefix, startAfter string, fn func(Attrs) error) error {
	if startAfter != "" {
		startAfter = s.prefix + startAfter
	}
	return s.parent.List(ctx, s.prefix+prefix, startAfter, func(a Attrs) error {
		a.Key = strings.TrimPrefix(a.Key, s.prefix)
		return fn(a)
	})
}

func (s sub) Ping(ctx context.Context) error { return s.parent.Ping(ctx) }

func (s sub) String() string { return strings.TrimSuffix(s.parent.String(), "/") + "/" + s.prefix }
