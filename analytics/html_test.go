package analytics_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// TestReportInChromium opens the HTML report of a run on generated logs in
// headless Chromium: no console error or exception, and each of the four
// charts is an SVG drawn at a non-zero size with marks in it.
func TestReportInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	ctx := context.Background()
	logDir, g := generated(t, 3, nil)
	rep, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: fileStore(t, ""), Now: g.Now}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	cctx := testserver.Chromium(t, 60*time.Second)

	var mu sync.Mutex
	var problems []string
	err = chromedp.Listen(cctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log "+string(ev.Entry.Level)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	type chartBox struct {
		ID    string  `json:"id"`
		W     float64 `json:"w"`
		H     float64 `json:"h"`
		Marks int     `json:"marks"`
	}
	if _, err := chromedp.Call(cctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("runtime.enable: %v", err)
	}
	if _, err := chromedp.Call(cctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log.enable: %v", err)
	}
	if err := chromedp.Do(cctx, chromedp.Navigate("file://"+page), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("open the report: %v", err)
	}
	title, err := chromedp.Run(cctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(cctx, chromedp.Evaluate[[]chartBox](`[...document.querySelectorAll("figure")].map(f => {
		const svg = f.querySelector("svg");
		const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
		return {id: f.id, w: r.width, h: r.height,
			marks: svg ? svg.querySelectorAll("rect, path, polyline, line, circle").length : 0};
	})`))
	if err != nil {
		t.Fatalf("measure the charts: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("page: %s", p)
	}
	if title == "" {
		t.Error("page has no title")
	}
	want := []string{"requests-per-day", "requests-per-class", "misses-avoided", "thumbnails-stored"}
	if len(charts) != len(want) {
		t.Fatalf("%d charts (%+v), want %d", len(charts), charts, len(want))
	}
	for i, c := range charts {
		if c.ID != want[i] || c.W <= 0 || c.H <= 0 || c.Marks == 0 {
			t.Errorf("chart %d: %+v; want %s drawn at a non-zero size with marks", i, c, want[i])
		}
	}
}
