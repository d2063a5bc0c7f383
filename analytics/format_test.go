package analytics_test

import (
	"context"
	"slices"
	"testing"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// TestOwnFormatClasses: when pages show each original's sizes in the
// original's own format (photo.png as photo_200x200.png, IMG_00005.JPG as
// IMG_00005_200x200.JPG), pre-generation makes those keys; when they ask
// JPEG of every original, it makes JPEG of PNG originals too. Requests
// for thumbnails of originals that do not exist (whose 404s name them
// under every extension) and crawlers change neither.
func TestOwnFormatClasses(t *testing.T) {
	for _, tc := range []struct {
		own, world bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		own := tc.own
		name := "fixed formats"
		if own {
			name = "own formats"
		}
		if tc.world {
			name += ", crawlers and missing originals"
		}
		t.Run(name, func(t *testing.T) {
			logDir, g := generated(t, 3, func(c *loggen.Config) {
				c.OwnFormat = own
				if tc.world {
					c.BotShare, c.MissingShare = 0.05, 0.02
				}
			})
			cfg := analytics.DefaultConfig()
			cfg.DryRun = true
			rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: fileStore(t, logDir), State: fileStore(t, ""), Now: g.Now}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var popular []string
			for _, c := range rep.Classes {
				if c.Popular {
					popular = append(popular, c.Class)
				}
			}
			wantClass, otherClass := "_200x200.jpg", "_200x200.*"
			if own {
				wantClass, otherClass = otherClass, wantClass
			}
			if !slices.Contains(popular, wantClass) || slices.Contains(popular, otherClass) {
				t.Errorf("popular classes %q: want %s, not %s", popular, wantClass, otherClass)
			}
			byExt := map[string]int{}
			for _, j := range rep.Jobs {
				k, err := thumbkey.Parse(j.Key)
				if err != nil {
					t.Fatalf("job %q: %v", j.Key, err)
				}
				if k.Width != 200 || k.Height != 200 || k.Mode != thumbkey.ModeUnset || k.Format() == thumbkey.WebP {
					continue // the JPEG-sized class pages show
				}
				orig := origExt(g, k)
				if own && k.Ext != orig || !own && k.Ext != "jpg" {
					t.Errorf("job %s for an original .%s (own formats: %v)", j.Key, orig, own)
				}
				byExt[k.Ext]++
			}
			if own && (byExt["png"] == 0 || byExt["JPG"] == 0 || byExt["jpeg"] == 0) || !own && byExt["jpg"] == 0 {
				t.Errorf("jobs of _200x200 by extension: %v", byExt)
			}
		})
	}
}

// origExt is the extension of the original of k the generator uploaded.
func origExt(g *loggen.Generator, k thumbkey.Key) string {
	for _, ext := range []string{"jpg", "png", "JPG", "jpeg"} {
		if _, ok := g.Uploaded(k.Original(ext)); ok {
			return ext
		}
	}
	return "none"
}
