package analytics

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
)

// TestBadStateValues: a state holding a role, existence or job kind out of
// range, or expected reads that are not a number, is refused when read,
// and calibration ignores a job whose expected reads are not a number
// rather than letting it pull K to its floor (found by review).
func TestBadStateValues(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := now.Add(-10 * 24 * time.Hour).Unix()
	base := func() *state.State {
		s := state.NewState()
		for i := range 40 {
			th := s.Thumb("p/a" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "_200x200.jpg")
			th.JobAt, th.JobExp, th.JobWhy, th.JobRead = at, 3, state.JobHot, at+3600
		}
		return s
	}
	good := calibrate(base(), DefaultConfig(), now)[state.JobHot].K
	for name, spoil := range map[string]func(*state.Thumb){
		"role":          func(t *state.Thumb) { t.Role = 5 },
		"existence":     func(t *state.Thumb) { t.Exists = 7 },
		"job kind":      func(t *state.Thumb) { t.JobWhy = 9 },
		"NaN expected":  func(t *state.Thumb) { t.JobAt, t.JobExp, t.JobWhy = at, float32(math.NaN()), state.JobHot },
		"+Inf expected": func(t *state.Thumb) { t.JobAt, t.JobExp, t.JobWhy = at, float32(math.Inf(1)), state.JobHot },
	} {
		t.Run(name, func(t *testing.T) {
			s := base()
			spoil(s.Thumb("p/zz_200x200.jpg"))
			if k := calibrate(s, DefaultConfig(), now)[state.JobHot].K; k != good {
				t.Errorf("K %.4f with the spoiled job, %.4f without", k, good)
			}
			var buf bytes.Buffer
			if err := state.EncodeState(&buf, s); err != nil {
				t.Fatal(err)
			}
			if back, err := state.DecodeState(&buf); !errors.Is(err, state.ErrBadState) || back != nil || !strings.Contains(err.Error(), "p/zz_200x200.jpg") && !strings.Contains(err.Error(), "expected") && !strings.Contains(err.Error(), name[:4]) {
				t.Errorf("read back: %v, %v; want ErrBadState", back, err)
			}
		})
	}
}
