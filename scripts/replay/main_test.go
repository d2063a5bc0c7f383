package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/loggen"
)

// smallWorkload is the default workload, scaled down to run in seconds.
func smallWorkload() loggen.Config {
	cfg := loggen.DefaultConfig()
	cfg.Days, cfg.Originals, cfg.UploadsPerDay, cfg.RequestsPerDay = 9, 300, 10, 6000
	return cfg
}

// TestReplay: the analyzer avoids some misses, upload events avoid more,
// and the figures add up.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	acfg := analytics.DefaultConfig()
	acfg.ExpireDays = smallWorkload().ExpireDays
	results := map[bool]*Result{}
	for _, events := range []bool{false, true} {
		res, err := replay(ctx, smallWorkload(), acfg, 24*time.Hour, events)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Days) != 9 {
			t.Fatalf("%d days replayed, want 9", len(res.Days))
		}
		var made int64
		for i, d := range res.Days {
			if d.Misses < 0 || d.Avoided < 0 || d.Made < 0 || d.UnreadAfter7d < 0 {
				t.Errorf("day %d: negative counts %+v", i, d)
			}
			if i < 2 {
				made += d.Made
			}
		}
		if res.AvoidedShare <= 0 || res.AvoidedShare >= 1 || res.Made != made || res.Unread > res.Made {
			t.Errorf("upload events %v: avoided %.3f, %d unread of %d made 7 days before the end (days 1-2 made %d)",
				events, res.AvoidedShare, res.Unread, res.Made, made)
		}
		results[events] = res
	}
	if results[true].AvoidedShare <= results[false].AvoidedShare {
		t.Errorf("avoided %.3f with upload events, %.3f without: want more with them", results[true].AvoidedShare, results[false].AvoidedShare)
	}
}

// TestReplayHourly: run every hour, the analyzer refreshes thumbnails the
// lifecycle rule would expire, and some refreshed ones are read after
// they would have gone.
func TestReplayHourly(t *testing.T) {
	gcfg := smallWorkload()
	gcfg.Days = 3 // what the warm-up made starts expiring on the first day
	acfg := analytics.DefaultConfig()
	acfg.ExpireDays = gcfg.ExpireDays
	res, err := replay(context.Background(), gcfg, acfg, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	var refreshed, queued, rescued, counted int64
	for _, d := range res.Days {
		refreshed += d.Refreshed
		queued += int64(d.Queued)
		rescued += d.CountedRescued
		counted += d.CountedPregen
	}
	if refreshed == 0 || queued < refreshed || res.AvoidedShare <= 0 {
		t.Errorf("hourly: %d refreshed, %d queued, %.3f avoided; want refreshes among the jobs and misses avoided", refreshed, queued, res.AvoidedShare)
	}
	// The analyzer's own count of what it saved, from the logs alone.
	if rescued == 0 || counted == 0 {
		t.Errorf("hourly: the analyzer counted %d misses avoided by refreshes and %d by pre-generation; want some of each", rescued, counted)
	}
}

func TestReplayFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--every", "5h"}, &out)
	if err == nil || !strings.Contains(err.Error(), "divide a day") {
		t.Errorf("--every 5h: %v, want an error saying it must divide a day", err)
	}
}

// TestReplayNoImpossibleJobs: with crawlers and requests for originals
// that do not exist, every job the analyzer queues is one a worker can
// make, the misses it cannot avoid are counted apart, and crawlers'
// requests are there to be ignored.
func TestReplayNoImpossibleJobs(t *testing.T) {
	gcfg := smallWorkload()
	gcfg.BotShare, gcfg.MissingShare, gcfg.StrayShare = 0.1, 0.05, 0.05
	acfg := analytics.DefaultConfig()
	acfg.ExpireDays = gcfg.ExpireDays
	res, err := replay(context.Background(), gcfg, acfg, 6*time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImpossibleJobs != 0 || res.MissingMisses == 0 || res.StrayMisses == 0 || res.BotRequests == 0 || res.AvoidedShare <= 0 {
		t.Errorf("%d impossible jobs %q, %d misses of missing originals, %d of stray sizes, %d crawler requests, %.3f avoided; want 0 impossible and some of the rest",
			res.ImpossibleJobs, res.Impossible, res.MissingMisses, res.StrayMisses, res.BotRequests, res.AvoidedShare)
	}
}
