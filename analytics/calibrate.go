package analytics

import (
	"math"
	"slices"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
)

// The analyzer's feedback: it remembers every job it queued (state.Thumb's
// Job fields) and, from later logs, whether people read the thumbnail
// within report.OutcomeHorizon. Its estimate of a thumbnail's reads in the
// next window, λ, comes from its original's rate and its class's share,
// and on some sites runs high (sizes that do not follow the original) or
// low. Reads are taken to come as a Poisson process, so a job is read
// within the horizon with chance 1 - exp(-K·λ); K is learned per kind of
// job from the jobs that have had their horizon (see fitK), and
// each run queues, cheapest waste first, only as many jobs as keep the
// expected unread share within Config.MaxUnread.

// minOutcomes is how many matured jobs of a kind it takes to learn K from
// them; with fewer, K is 1 (the estimate is trusted).
const minOutcomes = 30

// outcome is one matured job: the reads it expected, and whether it was
// read within the horizon.
type outcome struct {
	expected float64
	read     bool
}

// whyNames are the kinds of job as the report names them.
var whyNames = map[state.JobWhy]string{state.JobHot: report.WhyHot, state.JobNew: report.WhyNew, state.JobRefresh: report.WhyRefresh}

// calibrate measures the outcomes of the jobs queued in the window that
// ended report.OutcomeHorizon before now, and learns K for each kind.
func calibrate(s *state.State, cfg Config, now time.Time) map[state.JobWhy]report.Outcome {
	horizon := int64(report.OutcomeHorizon / time.Second)
	end := now.Unix() - horizon
	start := end - int64(cfg.Window/time.Second)
	samples := make(map[state.JobWhy][]outcome)
	for _, t := range s.Thumbs.All() {
		if t.JobAt <= start || t.JobAt > end || !(t.JobExp > 0) || math.IsInf(float64(t.JobExp), 0) || whyNames[t.JobWhy] == "" {
			continue
		}
		read := t.JobRead != 0 && t.JobRead-t.JobAt <= horizon
		samples[t.JobWhy] = append(samples[t.JobWhy], outcome{float64(t.JobExp), read})
	}
	out := make(map[state.JobWhy]report.Outcome, len(whyNames))
	for why, name := range whyNames {
		o := report.Outcome{Why: name, Matured: len(samples[why]), K: fitK(samples[why])}
		for _, x := range samples[why] {
			if !x.read {
				o.Unread++
			}
		}
		if o.Matured > 0 {
			o.UnreadShare = float64(o.Unread) / float64(o.Matured)
		}
		out[why] = o
	}
	return out
}

// fitK is the likeliest K given the outcomes and a prior belief that the
// estimates are right within a factor of about e either way (ln K normal,
// mean 0, deviation priorSigma): the root, in ln K, of the log-posterior's
// derivative,
//
//	K·(Σ_read λ·e^(-Kλ)/(1-e^(-Kλ)) - Σ_unread λ) - ln K / priorSigma²,
//
// which falls as K grows. The prior matters when the outcomes cannot tell:
// a run queues only the likeliest jobs, and if all of those were read, any
// large K explains them; it would be a mistake to conclude that every
// estimate is low by 64 times. Fewer than minOutcomes outcomes give 1.
func fitK(samples []outcome) float64 {
	const lo, hi = 1.0 / 64, 64.0
	if len(samples) < minOutcomes {
		return 1
	}
	slope := func(x float64) float64 {
		k := math.Exp(x)
		var d float64
		for _, o := range samples {
			if o.read {
				d += o.expected * math.Exp(-k*o.expected) / -math.Expm1(-k*o.expected)
			} else {
				d -= o.expected
			}
		}
		return k*d - x/(priorSigma*priorSigma)
	}
	a, b := math.Log(lo), math.Log(hi)
	switch {
	case slope(b) >= 0:
		return hi
	case slope(a) <= 0:
		return lo
	}
	for range 50 {
		m := (a + b) / 2
		if slope(m) > 0 {
			a = m
		} else {
			b = m
		}
	}
	return math.Exp((a + b) / 2)
}

// priorSigma is how far, in ln K, the estimates are believed to be off
// before any outcome is seen.
const priorSigma = 1.0

// unreadChance is the chance that a job expecting expected reads is not
// read within the horizon, under K k.
func unreadChance(k, expected float64) float64 { return math.Exp(-k * expected) }

// outcomeList is the report's view of outcomes, by kind.
func outcomeList(m map[state.JobWhy]report.Outcome) []report.Outcome {
	out := make([]report.Outcome, 0, len(m))
	for _, why := range []state.JobWhy{state.JobHot, state.JobNew, state.JobRefresh} {
		if o, ok := m[why]; ok {
			out = append(out, o)
		}
	}
	return slices.Clip(out)
}
