package analytics

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// synthetic draws n outcomes of jobs expecting between 0.05 and 20 reads
// (log-uniform), read with chance 1 - exp(-k·λ): a site whose estimates
// are off by the factor k.
func synthetic(n int, k float64, seed uint64) []outcome {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]outcome, n)
	for i := range out {
		lambda := 0.05 * math.Pow(400, rng.Float64())
		out[i] = outcome{expected: lambda, read: rng.Float64() < -math.Expm1(-k*lambda)}
	}
	return out
}

// TestFitKConverges: K is learned from outcomes alone, within 10% of the
// factor that made them, for estimates that run high and low; too few
// outcomes leave the estimate trusted; all read moves K up but not to the
// bound (a run queues only its likeliest jobs, so all read proves little),
// none read of jobs expecting many reads moves it far down.
func TestFitKConverges(t *testing.T) {
	for _, k := range []float64{0.1, 0.4, 1, 2.5} {
		for seed := range uint64(3) {
			if got := fitK(synthetic(4000, k, seed)); math.Abs(got-k) > 0.1*k {
				t.Errorf("k %v, seed %d: learned %.3f", k, seed, got)
			}
		}
	}
	if got := fitK(synthetic(minOutcomes-1, 0.1, 1)); got != 1 {
		t.Errorf("%d outcomes: K %v, want 1 (too few to learn from)", minOutcomes-1, got)
	}
	all := synthetic(100, 1, 1)
	for i := range all {
		all[i].read = true
	}
	if got := fitK(all); got < 2 || got >= 64 {
		t.Errorf("all read: K %v, want above 2 and below the bound 64", got)
	}
	for i := range all {
		all[i].read = false
	}
	if got := fitK(all); got > 0.1 {
		t.Errorf("none read (jobs expecting up to 20 reads): K %v, want below 0.1", got)
	}
}

// TestBudgetSelectsTheKnownThreshold: with K learned from a site's past
// jobs, the jobs a run would queue, cheapest waste first within a 25%
// budget, are those a selection knowing the true factor would queue (the
// known threshold), give or take a few, and their measured unread share
// is within the budget.
func TestBudgetSelectsTheKnownThreshold(t *testing.T) {
	const trueK, budget = 0.3, 0.25
	k := fitK(synthetic(3000, trueK, 7))
	next := synthetic(2000, trueK, 8) // this run's candidates, and what will become of them
	selectWithin := func(k float64) int {
		u := make([]float64, len(next))
		for i, x := range next {
			u[i] = unreadChance(k, x.expected)
		}
		slices.Sort(u)
		var sum float64
		for i, x := range u {
			if sum+x > budget*float64(i+1) {
				return i
			}
			sum += x
		}
		return len(u)
	}
	got, want := selectWithin(k), selectWithin(trueK)
	if math.Abs(float64(got-want)) > 0.05*float64(want) {
		t.Errorf("learned K %.3f selects %d jobs; the true factor %v selects %d", k, got, trueK, want)
	}
	// What became of the selected ones: the most expected reads first.
	byExpected := slices.Clone(next)
	slices.SortFunc(byExpected, func(a, b outcome) int { return cmp.Compare(b.expected, a.expected) })
	unread := 0
	for _, x := range byExpected[:got] {
		if !x.read {
			unread++
		}
	}
	if share := float64(unread) / float64(got); share > budget+0.03 {
		t.Errorf("selected %d jobs, %.1f%% unread; want within the %.0f%% budget", got, 100*share, 100*budget)
	}
	// Trusting the estimate (K 1) on this site would blow the budget.
	over := selectWithin(1)
	unread = 0
	for _, x := range byExpected[:over] {
		if !x.read {
			unread++
		}
	}
	if share := float64(unread) / float64(over); share <= budget+0.03 {
		t.Errorf("K 1 selects %d jobs, %.1f%% unread: the test site does not need calibration", over, 100*share)
	}
}
