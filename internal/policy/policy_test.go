package policy

import (
	"errors"
	"testing"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

func TestPolicyCheck(t *testing.T) {
	allowed, err := ParseSizes("200x200, 400x,x300")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy Policy
		key    string
		ok     bool
	}{
		{"any size under the max", Policy{MaxDimension: 4096}, "a_4096x4096.jpg", true},
		{"over the max", Policy{MaxDimension: 4096}, "a_4097x10.jpg", false},
		{"density pushes over the max", Policy{MaxDimension: 4096}, "a_2049x10@2x.jpg", false},
		{"density within the max", Policy{MaxDimension: 4096}, "a_2048x10@2x.jpg", true},
		{"allowed box", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_200x200.jpg", true},
		{"allowed box, any mode and density", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_200x200_fit@3x.webp", true},
		{"allowed free height", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_400x.jpg", true},
		{"allowed free width", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_x300.jpg", true},
		{"not in the list", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_201x200.jpg", false},
		{"free side is not the same box", Policy{AllowedSizes: allowed, MaxDimension: 4096}, "a_400x300.jpg", false},
		{"allowed but density over the max", Policy{AllowedSizes: allowed, MaxDimension: 500}, "a_200x200@3x.jpg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := thumbkey.Parse(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.policy.Check(k)
			if tt.ok && err != nil {
				t.Fatalf("Check(%s) = %v, want allowed", tt.key, err)
			}
			if !tt.ok && !errors.Is(err, ErrSizeNotAllowed) {
				t.Fatalf("Check(%s) = %v, want ErrSizeNotAllowed", tt.key, err)
			}
		})
	}
}

func TestParseSizesRejects(t *testing.T) {
	for _, s := range []string{"200", "200x200,abc", "0x1", "x"} {
		if _, err := ParseSizes(s); err == nil {
			t.Errorf("ParseSizes(%q): want error", s)
		}
	}
}
