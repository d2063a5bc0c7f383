package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: the numbers
// and four charts drawn as inline SVG, with no script and nothing loaded
// from elsewhere.
func (r *Report) WriteHTML(w io.Writer) error {
	data := struct {
		R       *Report
		Charts  []chart
		TopJobs []Job
	}{R: r, Charts: r.charts(), TopJobs: r.Jobs[:min(len(r.Jobs), topJobs)]}
	return pageTemplate.Execute(w, data)
}

type chart struct {
	ID, Title, Note string
	SVG             template.HTML
}

// topJobs is how many jobs the page and the text list.
const topJobs = 20

func (r *Report) charts() []chart {
	var dates []string
	var req, avoided, misses, stored []float64
	var ratio []float64
	for _, d := range r.Days {
		dates = append(dates, d.Date)
		req = append(req, float64(d.Requests))
		ratio = append(ratio, d.HitRatio)
		avoided = append(avoided, float64(d.Avoided))
		misses = append(misses, float64(d.Misses))
		stored = append(stored, float64(d.Stored))
	}
	var classes []string
	var classReq []float64
	var popular []bool
	for _, c := range r.Classes {
		classes = append(classes, shortClass(c.Class))
		classReq = append(classReq, float64(c.Requests))
		popular = append(popular, c.Popular)
	}
	return []chart{
		{ID: "requests-per-day", Title: "Thumbnail requests and hit ratio per day",
			Note: "Bars: requests (left axis). Line: hit ratio (right axis).",
			SVG:  barLineChart(dates, req, ratio)},
		{ID: "requests-per-class", Title: "Requests per size class (" + r.Window + ")",
			Note: "Dark bars: popular classes, made ahead of demand.",
			SVG:  hbarChart(classes, classReq, popular)},
		{ID: "misses-avoided", Title: "Misses avoided by pre-generation per day",
			Note: "Green: first reads of pre-generated thumbnails. Red: misses.",
			SVG:  stackedChart(dates, avoided, misses)},
		{ID: "thumbnails-stored", Title: "Thumbnails stored",
			Note: "Thumbnails the logs show as stored, at the end of each analyzed day.",
			SVG:  barLineChart(dates, stored, nil)},
	}
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 720, 260
	padL, padR     = 60, 50
	padT, padB     = 15, 45
)

func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := 1.0
	for step*10 <= v {
		step *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*step >= v {
			return m * step
		}
	}
	return 10 * step
}

func svgOpen(b *strings.Builder, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`, chartW, h, chartW, h)
}

func noData(b *strings.Builder) template.HTML {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" class="muted">no data yet</text></svg>`, chartW/2, chartH/2)
	return template.HTML(b.String())
}

// axes draws the frame, the left axis up to top and the date labels.
func axes(b *strings.Builder, labels []string, top float64) {
	x0, y0, y1 := padL, chartH-padB, padT
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, x0, y0, chartW-padR, y0)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, x0, y0, x0, y1)
	for i := 0; i <= 4; i++ {
		y := float64(y0) - float64(y0-y1)*float64(i)/4
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`, x0, y, chartW-padR, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>`, x0-6, y+4, shortNumber(top*float64(i)/4))
	}
	every := max(1, (len(labels)+9)/10)
	slot := float64(chartW-padL-padR) / float64(max(len(labels), 1))
	for i, l := range labels {
		if i%every != 0 {
			continue
		}
		x := float64(padL) + slot*(float64(i)+0.5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" class="tick">%s</text>`, x, y0+16, html.EscapeString(strings.TrimPrefix(l[min(5, len(l)):], "")))
	}
}

// barLineChart draws bars of values and, when ratio is not nil, a line of
// ratios (0 to 1) on a right-hand axis.
func barLineChart(labels []string, values, ratio []float64) template.HTML {
	var b strings.Builder
	svgOpen(&b, chartH)
	if len(values) == 0 {
		return noData(&b)
	}
	top := niceMax(slicesMax(values))
	axes(&b, labels, top)
	slot := float64(chartW-padL-padR) / float64(len(values))
	plotH := float64(chartH - padB - padT)
	for i, v := range values {
		h := plotH * v / top
		x := float64(padL) + slot*float64(i) + slot*0.15
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s: %s</title></rect>`,
			x, float64(chartH-padB)-h, slot*0.7, h, html.EscapeString(labels[i]), shortNumber(v))
	}
	if ratio != nil {
		var pts, dots []string
		for i, v := range ratio {
			x, y := float64(padL)+slot*(float64(i)+0.5), float64(chartH-padB)-plotH*v
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			// A dot per day: one day of data is a line of one point,
			// which draws nothing.
			dots = append(dots, fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="3" class="ratio-dot"><title>%s: %s</title></circle>`,
				x, y, html.EscapeString(labels[i]), pct(v)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" class="ratio"/>%s`, strings.Join(pts, " "), strings.Join(dots, ""))
		for i := 0; i <= 4; i++ {
			y := float64(chartH-padB) - plotH*float64(i)/4
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="tick">%d%%</text>`, chartW-padR+6, y+4, 25*i)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// stackedChart draws two stacked series per day.
func stackedChart(labels []string, low, high []float64) template.HTML {
	var b strings.Builder
	svgOpen(&b, chartH)
	if len(low) == 0 {
		return noData(&b)
	}
	sums := make([]float64, len(low))
	for i := range low {
		sums[i] = low[i] + high[i]
	}
	top := niceMax(slicesMax(sums))
	axes(&b, labels, top)
	slot := float64(chartW-padL-padR) / float64(len(low))
	plotH := float64(chartH - padB - padT)
	for i := range low {
		x := float64(padL) + slot*float64(i) + slot*0.15
		hl, hh := plotH*low[i]/top, plotH*high[i]/top
		y := float64(chartH - padB)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="good"><title>%s: %s avoided</title></rect>`,
			x, y-hl, slot*0.7, hl, html.EscapeString(labels[i]), shortNumber(low[i]))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bad"><title>%s: %s misses</title></rect>`,
			x, y-hl-hh, slot*0.7, hh, html.EscapeString(labels[i]), shortNumber(high[i]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbarChart draws one horizontal bar per label.
func hbarChart(labels []string, values []float64, strong []bool) template.HTML {
	var b strings.Builder
	const row = 18
	h := max(chartH, padT+row*len(labels)+padB)
	svgOpen(&b, h)
	if len(values) == 0 {
		return noData(&b)
	}
	const left = 170
	top := niceMax(slicesMax(values))
	width := float64(chartW - left - padR)
	for i, v := range values {
		y := padT + row*i
		cls := "bar light"
		if strong[i] {
			cls = "bar"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="tick">%s</text>`, left-6, y+13, html.EscapeString(labels[i]))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" class="%s"><title>%s: %s</title></rect>`,
			left, y+2, max(width*v/top, 1), row-4, cls, html.EscapeString(labels[i]), shortNumber(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick">%s</text>`, float64(left)+max(width*v/top, 1)+4, y+13, shortNumber(v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func slicesMax(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// shortNumber formats 1234567 as 1.2M.
func shortNumber(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": pct, "bytes": bytesString, "sub": func(a, b int64) int64 { return a - b },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>s3thumb analyzer report {{.R.Generated.Format "2006-01-02 15:04"}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:760px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}
td.n{text-align:right}
svg{max-width:100%;height:auto;display:block}
.axis{stroke:#444;stroke-width:1}.grid{stroke:#eee;stroke-width:1}
.tick{font-size:11px;fill:#555}.muted{fill:#999;font-size:14px}
.bar{fill:#3b6ea8}.bar.light{fill:#a9c1de}.good{fill:#3a9a52}.bad{fill:#d0533f}
.ratio{fill:none;stroke:#e08a1e;stroke-width:2}.ratio-dot{fill:#e08a1e}
.note{color:#666;font-size:12px}
</style>
</head>
<body>
<h1>s3thumb analyzer report</h1>
<p>Generated {{.R.Generated.Format "2006-01-02 15:04 UTC"}}; window {{.R.Window}}{{if .R.DryRun}}; dry run{{end}}.</p>
<table>
<tr><th>Thumbnail requests ({{.R.Window}})</th><td class="n">{{.R.Requests}}</td></tr>
<tr><th>Hit ratio</th><td class="n">{{pct .R.HitRatio}}</td></tr>
<tr><th>Misses</th><td class="n">{{.R.Misses}}</td></tr>
<tr><th>Misses avoided by pre-generation (hot originals / new uploads)</th><td class="n">{{.R.Avoided}} ({{sub .R.Avoided .R.AvoidedNew}} / {{.R.AvoidedNew}})</td></tr>
<tr><th>Misses avoided by refreshes</th><td class="n">{{.R.Rescued}}</td></tr>
<tr><th>Jobs queued</th><td class="n">{{.R.JobsQueued}}</td></tr>
<tr><th>Of them expected to stay unread 7 days (budget)</th><td class="n">{{pct .R.PlannedUnread}} ({{pct .R.MaxUnread}})</td></tr>
<tr><th>Crawler requests (not demand)</th><td class="n">{{.R.Crawler}} ({{pct .R.CrawlerShare}})</td></tr>
<tr><th>Stale thumbnails / deleted</th><td class="n">{{len .R.Stale}} / {{.R.Deleted}}</td></tr>
<tr><th>Bytes freed</th><td class="n">{{bytes .R.BytesFreed}}</td></tr>
<tr><th>Thumbnails stored (known)</th><td class="n">{{.R.Stored}}</td></tr>
<tr><th>Log objects read this run</th><td class="n">{{.R.Run.LogObjects}}</td></tr>
</table>
{{range .Charts}}
<h2>{{.Title}}</h2>
<figure id="{{.ID}}">{{.SVG}}<figcaption class="note">{{.Note}}</figcaption></figure>
{{end}}
{{if .R.Outcomes}}<h2>What became of past jobs</h2>
<table>
<tr><th>Kind</th><th>Jobs with 7 days up</th><th>Unread within 7 days</th><th>K (estimates × K = reads)</th></tr>
{{range .R.Outcomes}}<tr><td>{{.Why}}</td><td class="n">{{.Matured}}</td><td class="n">{{.Unread}} ({{pct .UnreadShare}})</td><td class="n">{{printf "%.2f" .K}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Jobs}}<h2>Jobs {{if .R.DryRun}}planned{{else}}queued{{end}} (most likely read first)</h2>
<table>
<tr><th>Thumbnail</th><th>Why</th><th>Reads expected</th><th>Chance unread</th></tr>
{{range .TopJobs}}<tr><td>{{.Key}}</td><td>{{.Why}}</td><td class="n">{{printf "%.1f" .Expected}}</td><td class="n">{{pct .Unread}}</td></tr>
{{end}}</table>{{end}}
<h2>Top originals ({{.R.Window}})</h2>
<table>
<tr><th>Original</th><th>Requests</th><th>Misses (all)</th></tr>
{{range .R.TopOriginals}}<tr><td>{{.Original}}</td><td class="n">{{.Requests}}</td><td class="n">{{.Misses}}</td></tr>
{{end}}</table>
</body>
</html>
`))
