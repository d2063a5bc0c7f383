package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// storeFlags choose and reach the object store.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "store", Value: "file://./data", Usage: "where originals and thumbnails live: s3://BUCKET[/PREFIX] or file://DIR"},
		&cli.StringFlag{Name: "s3-endpoint", Usage: "S3 endpoint URL for S3-compatible stores (default: AWS, from the region)"},
		&cli.BoolFlag{Name: "s3-path-style", Usage: "address buckets by path (http://host/bucket/key), as most S3-compatible stores need"},
		&cli.StringFlag{Name: "region", Usage: "AWS region (default: the standard chain, AWS_REGION or the profile)"},
	}
}

// openStore opens --store.
func openStore(ctx context.Context, c *cli.Context) (store.Store, error) {
	return openURL(ctx, c, "store", false)
}

// openURL opens the store a URL flag names, with the S3 options of
// storeFlags; a file:// directory is created first when create is set. It
// is the one place a command opens a store.
func openURL(ctx context.Context, c *cli.Context, flag string, create bool) (store.Store, error) {
	raw := c.String(flag)
	loc, err := store.ParseURL(raw)
	if err != nil {
		return nil, usagef("--%s: %w", flag, err)
	}
	if create && loc.Dir != "" {
		if err := os.MkdirAll(loc.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
	}
	st, err := store.Open(ctx, raw, store.Options{
		S3Endpoint:  c.String("s3-endpoint"),
		S3PathStyle: c.Bool("s3-path-style"),
		Region:      c.String("region"),
	})
	if errors.Is(err, store.ErrBadURL) {
		return nil, usagef("--%s: %w", flag, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", raw, err)
	}
	return st, nil
}

// thumbnailFlags say which thumbnails may be made and how: the policy, then
// how they are made.
func thumbnailFlags() []cli.Flag {
	d := thumbnail.DefaultConfig()
	return append(policyFlags(), []cli.Flag{
		&cli.StringFlag{Name: "default-mode", Value: string(d.DefaultMode), Usage: "mode for keys that name none: fill (cover the box, centre-crop), smart (cover, crop where libvips' attention measure points), entropy (cover, crop where the detail is) or fit (inside the box)"},
		&cli.Int64Flag{Name: "max-source-pixels", Value: imaging.DefaultMaxPixels, Usage: "largest original in pixels, checked from its header before decoding"},
		&cli.Int64Flag{Name: "max-source-bytes", Value: d.MaxSourceBytes, Usage: "largest original in bytes, checked before reading it"},
		&cli.IntFlag{Name: "max-memory", Value: thumbnail.DefaultMaxMemory >> 20, Usage: "megabytes the resizes in flight may hold for decoding, estimated from each original's header: a resize waits while others hold too much, an original that needs more alone is refused (413); 0: no bound"},
		&cli.StringFlag{Name: "queue-order", Value: "arrival", Usage: "which waiting resize gets a free slot: arrival (first come, first served: the lowest tail latency under overload) or shortest (the least work estimated from the original's header, with ageing so that none starves: a lower median, a higher tail)"},
		&cli.Float64Flag{Name: "queue-ageing", Value: thumbnail.DefaultAgeing, Usage: "with --queue-order shortest, each waiting resize is ordered as if it had arrived this many times its estimated work later: larger favours small originals more and keeps large ones waiting longer; 0 can starve large ones"},
		&cli.IntFlag{Name: "jpeg-quality", Value: d.Quality[imaging.JPEG], Usage: "JPEG quality, 1-100"},
		&cli.IntFlag{Name: "webp-quality", Value: d.Quality[imaging.WebP], Usage: "WebP quality, 1-100"},
		&cli.IntFlag{Name: "avif-quality", Value: d.Quality[imaging.AVIF], Usage: "AVIF quality, 1-100"},
		&cli.StringFlag{Name: "background", Value: "#ffffff", Usage: "colour transparent pixels are flattened onto for JPEG, as #rrggbb"},
		&cli.BoolFlag{Name: "enlarge", Usage: "scale images smaller than the box up to it"},
		&cli.StringFlag{Name: "cache-control", Value: d.CacheControl, Usage: "Cache-Control of thumbnails, in answers and stored with them"},
		&cli.StringFlag{Name: "storage-class", Value: d.StorageClass, Usage: "S3 storage class of stored thumbnails (STANDARD is cheapest for small objects)"},
		&cli.BoolFlag{Name: "store-back", Value: d.StoreBack, Usage: "store each new thumbnail under its key (turn off only to benchmark the miss path)"},
	}...)
}

// policyFlags say which thumbnails may be made and where their originals
// are: serve and work make by them, enqueue checks its jobs against them
// and analyze counts demand and queues jobs only for what they allow. Give
// every command the same values.
func policyFlags() []cli.Flag {
	return []cli.Flag{
		sourceExtsFlag(),
		&cli.StringFlag{Name: "allowed-sizes", Usage: "only these boxes are served, e.g. 200x200,400x,x300 (any mode; density multiplies); empty: any box up to --max-dimension"},
		&cli.IntFlag{Name: "max-dimension", Value: policy.DefaultMaxDimension, Usage: "largest output side in pixels, density included"},
	}
}

// policyConfig reads policyFlags.
func policyConfig(c *cli.Context) (policy.Policy, []string, error) {
	p := policy.Policy{MaxDimension: c.Int("max-dimension")}
	var err error
	if p.AllowedSizes, err = policy.ParseSizes(c.String("allowed-sizes")); err != nil {
		return p, nil, usagef("--allowed-sizes: %w", err)
	}
	if err := p.Validate(); err != nil {
		return p, nil, usageError{err}
	}
	if p.MaxDimension > imaging.MaxDimension {
		return p, nil, usagef("--max-dimension %d: at most %d, the largest image the encoders write", p.MaxDimension, imaging.MaxDimension)
	}
	return p, splitList(c.String("source-exts")), nil
}

// sourceExtsFlag is --source-exts, for the commands that make thumbnails
// and for analyze, which looks for originals as the workers do.
func sourceExtsFlag() cli.Flag {
	return &cli.StringFlag{Name: "source-exts", Value: strings.Join(thumbkey.DefaultSourceExts, ","), Usage: "extensions tried for the original, after the thumbnail's own"}
}

func thumbnailConfig(c *cli.Context) (thumbnail.Config, error) {
	cfg := thumbnail.DefaultConfig()
	mode, err := thumbkey.ParseMode(c.String("default-mode"))
	if err != nil {
		return cfg, usagef("--default-mode: %w", err)
	}
	cfg.DefaultMode = mode
	if cfg.Policy, cfg.SourceExts, err = policyConfig(c); err != nil {
		return cfg, err
	}
	cfg.MaxSourceBytes = c.Int64("max-source-bytes")
	cfg.Quality = map[imaging.Format]int{
		imaging.JPEG: c.Int("jpeg-quality"),
		imaging.WebP: c.Int("webp-quality"),
		imaging.AVIF: c.Int("avif-quality"),
	}
	if cfg.Background, err = parseColor(c.String("background")); err != nil {
		return cfg, usagef("--background: %w", err)
	}
	cfg.Enlarge = c.Bool("enlarge")
	cfg.CacheControl = c.String("cache-control")
	cfg.StorageClass = c.String("storage-class")
	cfg.StoreBack = c.Bool("store-back")
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func imagingConfig(c *cli.Context) imaging.Config {
	cfg := imaging.DefaultConfig()
	cfg.MaxPixels = c.Int64("max-source-pixels")
	return cfg
}

// parseColor parses "#rrggbb".
func parseColor(s string) (imaging.RGB, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "#"))
	if err != nil || len(b) != 3 {
		return imaging.RGB{}, fmt.Errorf("%q is not a colour like #ffffff", s)
	}
	return imaging.RGB{R: b[0], G: b[1], B: b[2]}, nil
}
