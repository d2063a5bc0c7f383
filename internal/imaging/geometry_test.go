package imaging

import "testing"

func TestPlanGeometry(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		opts Options
		want geometry
	}{
		// Inside: the limiting side meets the box, the other follows.
		{"inside landscape", 4000, 3000, Options{Width: 200, Height: 200}, geometry{200, 150, 200, 150}},
		{"inside portrait", 3000, 4000, Options{Width: 200, Height: 200}, geometry{150, 200, 150, 200}},
		{"inside wide box", 4000, 3000, Options{Width: 1000, Height: 300}, geometry{400, 300, 400, 300}},
		{"inside exact aspect", 4000, 3000, Options{Width: 400, Height: 300}, geometry{400, 300, 400, 300}},
		{"inside rounds to nearest", 1000, 333, Options{Width: 100, Height: 100}, geometry{100, 33, 100, 33}},
		{"inside rounds up", 1000, 335, Options{Width: 100, Height: 100}, geometry{100, 34, 100, 34}},
		{"inside sliver keeps 1px", 10000, 10, Options{Width: 100, Height: 100}, geometry{100, 1, 100, 1}},
		// A free side follows the aspect ratio.
		{"free height", 4000, 3000, Options{Width: 1024}, geometry{1024, 768, 1024, 768}},
		{"free width", 4000, 3000, Options{Height: 300}, geometry{400, 300, 400, 300}},
		{"cover with free side is inside", 4000, 3000, Options{Width: 1024, Fit: Cover}, geometry{1024, 768, 1024, 768}},
		// Cover: scale to cover, keep the centred box.
		{"cover landscape", 4000, 3000, Options{Width: 200, Height: 200, Fit: Cover}, geometry{267, 200, 200, 200}},
		{"cover portrait", 3000, 4000, Options{Width: 200, Height: 200, Fit: Cover}, geometry{200, 267, 200, 200}},
		{"cover tall box", 4000, 3000, Options{Width: 100, Height: 300, Fit: Cover}, geometry{400, 300, 100, 300}},
		{"cover exact aspect", 4000, 3000, Options{Width: 400, Height: 300, Fit: Cover}, geometry{400, 300, 400, 300}},
		// No enlarging: smaller images keep their size.
		{"inside small image", 150, 100, Options{Width: 200, Height: 200}, geometry{150, 100, 150, 100}},
		{"inside free side small image", 150, 100, Options{Width: 300}, geometry{150, 100, 150, 100}},
		{"inside one side small", 300, 100, Options{Width: 200, Height: 200}, geometry{200, 67, 200, 67}},
		// ... and Cover still crops them to the box's aspect ratio.
		{"cover small wide image", 300, 100, Options{Width: 200, Height: 200, Fit: Cover}, geometry{300, 100, 100, 100}},
		{"cover small square image", 150, 150, Options{Width: 200, Height: 300, Fit: Cover}, geometry{150, 150, 100, 150}},
		{"cover small tall image", 100, 400, Options{Width: 300, Height: 200, Fit: Cover}, geometry{100, 400, 100, 67}},
		{"cover same size", 200, 200, Options{Width: 200, Height: 200, Fit: Cover}, geometry{200, 200, 200, 200}},
		// Enlarge scales up.
		{"inside enlarge", 150, 100, Options{Width: 300, Height: 300, Enlarge: true}, geometry{300, 200, 300, 200}},
		{"inside enlarge free side", 150, 100, Options{Height: 400, Enlarge: true}, geometry{600, 400, 600, 400}},
		{"cover enlarge", 300, 100, Options{Width: 200, Height: 200, Fit: Cover, Enlarge: true}, geometry{600, 200, 200, 200}},
		{"enlarge does not matter when shrinking", 4000, 3000, Options{Width: 200, Height: 200, Enlarge: true}, geometry{200, 150, 200, 150}},
		// Tiny images.
		{"1x1 inside", 1, 1, Options{Width: 200, Height: 200}, geometry{1, 1, 1, 1}},
		{"1x1 cover", 1, 1, Options{Width: 200, Height: 100, Fit: Cover}, geometry{1, 1, 1, 1}},
		{"1x1 enlarge", 1, 1, Options{Width: 200, Height: 100, Fit: Cover, Enlarge: true}, geometry{200, 200, 200, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planGeometry(tt.w, tt.h, tt.opts)
			if got != tt.want {
				t.Errorf("planGeometry(%d, %d, %+v) = %+v, want %+v", tt.w, tt.h, tt.opts, got, tt.want)
			}
			// Invariants: the kept part lies within the scaled image, and
			// Cover with a box and Enlarge gives exactly the box.
			if got.outW > got.scaledW || got.outH > got.scaledH || got.outW < 1 || got.outH < 1 {
				t.Errorf("kept part %dx%d not within scaled %dx%d", got.outW, got.outH, got.scaledW, got.scaledH)
			}
			if !tt.opts.Enlarge && (got.scaledW > tt.w || got.scaledH > tt.h) {
				t.Errorf("scaled up to %dx%d without Enlarge", got.scaledW, got.scaledH)
			}
		})
	}
}
