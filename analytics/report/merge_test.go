package report

import (
	"errors"
	"reflect"
	"testing"

	"github.com/s3thumb/s3thumb/analytics/state"
)

func TestMergeRefuses(t *testing.T) {
	shard := func(s, window string) *Report { return &Report{Shard: s, Window: window} }
	for name, reps := range map[string][]*Report{
		"none":             nil,
		"not a shard":      {shard("", "7d")},
		"a shard twice":    {shard("0/2", "7d"), shard("0/2", "7d")},
		"other counts":     {shard("0/2", "7d"), shard("1/3", "7d")},
		"other windows":    {shard("0/2", "7d"), shard("1/2", "14d")},
		"index past count": {shard("2/2", "7d")},
	} {
		if m, err := Merge(reps); !errors.Is(err, ErrMerge) || m != nil {
			t.Errorf("%s: %v, %v; want ErrMerge", name, m, err)
		}
	}
}

// TestMergeSums: the shards' own counts are summed, the days by date; a
// merge of some of the shards says which.
func TestMergeSums(t *testing.T) {
	a := &Report{Shard: "0/3", Window: "7d", Counts: Counts{Requests: 10, Hits: 6, Misses: 4}, JobsQueued: 2, PlannedUnread: 0.5,
		Days: []DayReport{{Date: "2026-03-01", Day: state.Day{Requests: 10, Hits: 6}}}}
	b := &Report{Shard: "2/3", Window: "7d", Counts: Counts{Requests: 30, Hits: 24, Misses: 6}, JobsQueued: 6, PlannedUnread: 0.1,
		Days: []DayReport{{Date: "2026-03-01", Day: state.Day{Requests: 20, Hits: 20}}, {Date: "2026-03-02", Day: state.Day{Requests: 10, Hits: 4}}}}
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Shard != "0,2/3" || m.Requests != 40 || m.Hits != 30 || m.HitRatio != 0.75 || m.JobsQueued != 8 || m.PlannedUnread != 0.2 {
		t.Errorf("merged %+v", m)
	}
	if len(m.Days) != 2 || m.Days[0].Requests != 30 || m.Days[0].HitRatio != 26.0/30 || m.Days[1].Requests != 10 {
		t.Errorf("merged days %+v", m.Days)
	}
}

// TestDayAddCoversEveryCount: Day.Add sums every count a Day has.
func TestDayAddCoversEveryCount(t *testing.T) {
	var one state.Day
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(1)
	}
	sum := one
	sum.Add(one)
	w := reflect.ValueOf(sum)
	for i := range w.NumField() {
		if w.Field(i).Int() != 2 {
			t.Errorf("Day.Add leaves out %s", w.Type().Field(i).Name)
		}
	}
}

// TestMergeTopOriginals: the merged list is the most requested originals
// of all shards, whatever order the reports come in (found by review: it
// was cut to the first report's length).
func TestMergeTopOriginals(t *testing.T) {
	a := &Report{Window: "7d", Shard: "0/2"} // no reads of its originals
	b := &Report{Window: "7d", Shard: "1/2", TopOriginals: []OriginalReport{{Original: "x", Requests: 5}}}
	for _, reps := range [][]*Report{{a, b}, {b, a}} {
		m, err := Merge(reps)
		if err != nil || len(m.TopOriginals) != 1 || m.TopOriginals[0].Original != "x" {
			t.Errorf("merged top originals %v, %v; want x", m.TopOriginals, err)
		}
	}
	if _, err := Merge([]*Report{{Window: "7d", Shard: "0/2", DryRun: true}, b}); !errors.Is(err, ErrMerge) {
		t.Errorf("a dry run merged with a run: %v, want ErrMerge", err)
	}
	if _, err := Merge([]*Report{{Window: "7d", Shard: "0/2", Unchanged: true}, b}); !errors.Is(err, ErrMerge) {
		t.Errorf("a run that decided nothing merged: %v, want ErrMerge", err)
	}
}

// TestMergeOutcomes: the shards' measured jobs are summed and their Ks
// averaged, weighted by the jobs each measured.
func TestMergeOutcomes(t *testing.T) {
	a := &Report{Window: "7d", Shard: "0/2", Outcomes: []Outcome{{Why: WhyHot, Matured: 10, Unread: 2, K: 1}}}
	b := &Report{Window: "7d", Shard: "1/2", Outcomes: []Outcome{{Why: WhyHot, Matured: 30, Unread: 8, K: 0.5}, {Why: WhyNew, K: 1}}}
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{{Why: WhyHot, Matured: 40, Unread: 10, UnreadShare: 0.25, K: 0.625}, {Why: WhyNew, K: 1}}
	if !reflect.DeepEqual(m.Outcomes, want) {
		t.Errorf("merged outcomes %+v, want %+v", m.Outcomes, want)
	}
}
