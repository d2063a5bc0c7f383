// Package loggen generates realistic S3 server access logs of a bucket that
// serves thumbnails through its website endpoint, for the analyzer's tests,
// benchmarks and replay harness.
//
// The model: originals (photos/img00042.jpg and a few names with spaces,
// accents and percent signs) with Zipf popularity; new uploads every day
// (REST.PUT.OBJECT), which draw a share of the day's requests while they are
// recent; thumbnail requests (WEBSITE.GET.OBJECT) for a few dominant sizes
// (200x200, 400x, 800x600_fit, webp variants) and a long tail. The long tail
// comes from content: a page embeds a photo at a size of its own, so each
// original has a few tail sizes of its own that every reader of that page
// asks for, and a few requests are stray sizes drawn at random (hand-typed
// URLs, scanners), almost each one a key never seen before. A request for
// a thumbnail that exists is a hit (200); one that does not is a miss
// (Config.MissStatus), after which the responder reads the original
// (REST.GET.OBJECT) and stores the thumbnail (REST.PUT.OBJECT): it exists from
// then on, until the lifecycle rule expires it (S3.EXPIRE.OBJECT). Each
// hour's records are spread over a few log objects delivered minutes to hours
// later, in the simple or the date-partitioned key layout, with a few
// malformed lines and a few records delivered twice. The logs begin after a
// few warm-up days of the same traffic, unlogged, so that the bucket holds
// what on-demand serving made before anyone read its logs. The same seed
// gives the same logs.
//
// The generator also answers for the bucket: the replay harness tells it
// which thumbnails workers made (Create) or cleanup removed (Delete), and
// reads how many of them clients then asked for (Stats).
package loggen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// ErrDone is returned by Day when every configured day has been generated.
var ErrDone = errors.New("all days generated")

// Stats counts what a Generator has written and simulated.
type Stats struct {
	Objects    int64 // log objects written
	Lines      int64 // lines written: Records + Duplicates + Malformed
	Records    int64 // distinct records
	Duplicates int64 // records written a second time
	Malformed  int64 // lines written to be malformed

	Requests int64 // requests played: clients' website requests and the noise among them
	Hits     int64 // thumbnail requests that found the thumbnail
	Misses   int64 // thumbnail requests that did not
	// Of the misses: StrayMisses for sizes drawn at random (StrayShare),
	// MissingMisses for thumbnails of originals that do not exist
	// (MissingShare); the rest are of the sizes pages show. BotRequests
	// counts the requests of crawlers (BotShare).
	StrayMisses     int64
	MissingMisses   int64
	BotRequests     int64
	OriginalReads   int64 // client requests for originals
	Noise           int64 // listings, HEADs, requests for keys that never exist
	Uploads         int64 // originals uploaded
	ThumbnailWrites int64 // thumbnails the responder stored after a miss
	Expirations     int64 // thumbnails the lifecycle rule removed

	PregenCreated    int64 // thumbnails made through Create
	PregenFirstReads int64 // first client reads of those: misses avoided

	// Refreshed counts Create calls for thumbnails that existed: written
	// again, their lifecycle clock restarted. RefreshedReads counts the
	// first reads of those after the time the rule would have expired them:
	// misses a refresh avoided.
	Refreshed      int64
	RefreshedReads int64
}

// sizeClass is a thumbnail size as it ends a key: "_200x200.jpg".
type sizeClass struct {
	suffix string
	bytes  int64 // typical size of such a thumbnail
	weight int   // share among the dominant sizes
}

// dominantSizes are the sizes most requests ask for.
func dominantSizes() []sizeClass {
	return []sizeClass{
		{"_200x200.jpg", 11_000, 30},
		{"_400x.jpg", 32_000, 18},
		{"_800x600_fit.jpg", 95_000, 12},
		{"_200x200.webp", 7_000, 12},
		{"_400x.webp", 21_000, 8},
		{"_400x@2x.jpg", 110_000, 5},
	}
}

// tailSizes builds the long tail: many sizes, each asked for rarely.
func tailSizes() []sizeClass {
	widths := []int{96, 120, 150, 160, 240, 250, 300, 320, 360, 480, 500, 600, 640, 720, 768, 960, 1024, 1080, 1200, 1280, 1600, 1920}
	var out []sizeClass
	for _, w := range widths {
		b := int64(w) * int64(w) / 6
		out = append(out,
			sizeClass{suffix: "_" + strconv.Itoa(w) + "x.jpg", bytes: b},
			sizeClass{suffix: "_" + strconv.Itoa(w) + "x" + strconv.Itoa(w*3/4) + "_fill.jpg", bytes: b * 3 / 4},
			sizeClass{suffix: "_x" + strconv.Itoa(w) + ".webp", bytes: b / 2},
			sizeClass{suffix: "_" + strconv.Itoa(w) + "x" + strconv.Itoa(w) + "_fit.png", bytes: b * 3},
			sizeClass{suffix: "_" + strconv.Itoa(w) + "x@3x.avif", bytes: b * 2})
	}
	return out
}

type original struct {
	key, stem string // "photos/img00042.jpg", "photos/img00042"
	ext       string // "jpg"
	embeds    []int  // indexes into the tail: the sizes pages show it at
	getURI    string // "GET /photos/img00042.jpg HTTP/1.1"
	size      int64
	uploaded  time.Time
}

type thumb struct {
	key     string
	getURI  string
	created time.Time // last write
	size    int64
	pregen  bool // made through Create
	read    bool // read by a client since it was made
	// rescued is when the lifecycle rule would have expired it but for a
	// refresh; zero when no refresh saved it, or once a read counted that.
	rescued time.Time
}

// workerPut is a pre-generation worker's write of a thumbnail.
type workerPut struct {
	key  string
	at   time.Time
	size int64
}

type expiring struct {
	key     string
	created time.Time
}

// event is something that happens in an hour.
type event struct {
	at   time.Duration // since the start of the hour
	seq  int
	kind eventKind
	key  string // for expirations
}

type eventKind uint8

const (
	evRequest eventKind = iota
	evUpload
	evExpire
)

// object is a log object being filled.
type object struct {
	fields int
	layout string
	buf    []byte
}

// Generator makes the logs, one day at a time. It is not safe for
// concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	start time.Time
	bot   bool // the request being played is a crawler's

	originals []original     // in upload order
	byKey     map[string]int // indexes into originals, by key
	order     []int          // indexes into originals, most popular first
	thumbs    map[string]*thumb
	expiry    map[int][]expiring // by day index
	dominant  []sizeClass
	domTotal  int
	tail      []sizeClass
	tailZipf  *rand.Zipf
	zipf      *rand.Zipf // over order, for zipfN originals
	zipfN     int
	ips       []string
	agents    []string
	hostIDs   []string // x-amz-id-2 values, reused: nothing reads them
	referers  []string
	restIPs   []string
	webHost   string // host header of website requests
	restHost  string // host header of REST requests
	diurnal   [24]float64
	day       int        // the day being generated, from 0
	hour      int        // the next hour of it to generate
	uploads   [24]int    // the day's uploads, by hour
	expiring  []expiring // the day's lifecycle expirations
	now       time.Time
	stats     Stats
	// workerPuts are the writes Create stands for, logged at the start of
	// the next hour generated.
	workerPuts []workerPut
	onUpload   func(key string)

	rec     accesslog.Record
	keyBuf  []byte
	events  []event
	objs    []object
	gz      *gzip.Writer
	gzBuf   bytes.Buffer
	scratch []byte
}

// New returns a Generator for a valid config.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("log generator: %w", err)
	}
	y, m, d := cfg.Start.UTC().Date()
	g := &Generator{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		start:    time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -cfg.WarmupDays),
		thumbs:   make(map[string]*thumb),
		expiry:   make(map[int][]expiring),
		dominant: dominantSizes(),
		tail:     tailSizes(),
	}
	g.now = g.start
	g.webHost = cfg.Bucket + ".s3-website-" + cfg.Region + ".amazonaws.com"
	g.restHost = cfg.Bucket + ".s3." + cfg.Region + ".amazonaws.com"
	for i := range 40 {
		g.referers = append(g.referers, "https://www.example.com/gallery/"+strconv.Itoa(i+1))
	}
	for i := range 80 {
		g.restIPs = append(g.restIPs, "10.0."+strconv.Itoa(i/20)+"."+strconv.Itoa(10+i%20))
	}
	for range 1024 {
		var id [57]byte
		for i := range id {
			id[i] = byte(g.rng.Uint32())
		}
		g.hostIDs = append(g.hostIDs, base64.StdEncoding.EncodeToString(id[:]))
	}
	for _, c := range g.dominant {
		g.domTotal += c.weight
	}
	g.tailZipf = rand.NewZipf(g.rng, 1.2, 2, uint64(len(g.tail)-1))
	total := 0.0
	for h := range g.diurnal {
		g.diurnal[h] = 1 + 0.6*math.Sin(2*math.Pi*float64(h-9)/24)
		total += g.diurnal[h]
	}
	for h := range g.diurnal {
		g.diurnal[h] /= total
	}
	g.agents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"curl/8.5.0",
	}
	for i := 0; i < 4000; i++ {
		if i%4 == 0 {
			g.ips = append(g.ips, fmt.Sprintf("2001:db8:%x:%x::%x", g.rng.IntN(0x10000), g.rng.IntN(0x10000), 1+g.rng.IntN(0xfffe)))
		} else {
			g.ips = append(g.ips, fmt.Sprintf("198.%d.%d.%d", 18+g.rng.IntN(2), g.rng.IntN(256), 1+g.rng.IntN(254)))
		}
	}
	// The first originals were uploaded over the year before the start, in
	// order: originals stays sorted by upload time.
	step := 365 * 24 * time.Hour / time.Duration(cfg.Originals)
	for i := 0; i < cfg.Originals; i++ {
		g.addOriginal(g.start.Add(-time.Duration(cfg.Originals-i) * step))
	}
	g.rng.Shuffle(len(g.order), func(i, j int) { g.order[i], g.order[j] = g.order[j], g.order[i] })
	// The site ran before its logs were read: the warm-up days are played
	// unlogged, then counting starts.
	discard := SinkFunc(func(context.Context, string, []byte) error { return nil })
	for g.day < cfg.WarmupDays {
		if err := g.Day(context.Background(), discard); err != nil {
			return nil, err
		}
	}
	g.stats = Stats{}
	return g, nil
}

// originalName names the i-th original: mostly img00042.jpg, with a few
// names that need URL-encoding and a few PNGs.
func originalName(i int, cameras bool) string {
	switch {
	case cameras && i%10 == 5:
		return fmt.Sprintf("photos/IMG_%05d.JPG", i)
	case cameras && i%10 == 7:
		return fmt.Sprintf("photos/img%05d.jpeg", i)
	case i%53 == 7:
		return fmt.Sprintf("photos/Summer Holiday %05d.jpg", i)
	case i%71 == 19:
		return fmt.Sprintf("photos/café crème №%05d.jpg", i)
	case i%97 == 3:
		return fmt.Sprintf("photos/100%% natural+%05d.jpg", i)
	case i%10 == 3:
		return fmt.Sprintf("photos/img%05d.png", i)
	}
	return fmt.Sprintf("photos/img%05d.jpg", i)
}

// embedsPerOriginal is how many tail sizes pages show each original at.
const embedsPerOriginal = 2

// addOriginal adds an original uploaded at t; new ones rank high.
func (g *Generator) addOriginal(t time.Time) *original {
	key := originalName(len(g.originals), g.cfg.OwnFormat)
	dot := strings.LastIndexByte(key, '.')
	embeds := make([]int, embedsPerOriginal)
	for i := range embeds {
		embeds[i] = int(g.tailZipf.Uint64())
	}
	g.originals = append(g.originals, original{key: key, stem: key[:dot], ext: key[dot+1:], getURI: requestLine("GET", key),
		embeds: embeds, size: 800_000 + g.rng.Int64N(7_000_000), uploaded: t})
	if g.byKey == nil {
		g.byKey = make(map[string]int)
	}
	g.byKey[key] = len(g.originals) - 1
	u := g.rng.Float64()
	pos := int(float64(len(g.order)) * u * u * u)
	g.order = slices.Insert(g.order, pos, len(g.originals)-1)
	return &g.originals[len(g.originals)-1]
}

// makeThumb records that a thumbnail was written at t and schedules its
// expiration.
func (g *Generator) makeThumb(key string, t time.Time, size int64, pregen bool) {
	g.thumbs[key] = &thumb{key: key, getURI: requestLine("GET", key), created: t, size: size, pregen: pregen}
	if g.cfg.ExpireDays == 0 {
		return
	}
	day := g.expiryDay(t)
	g.expiry[day] = append(g.expiry[day], expiring{key: key, created: t})
}

// expiryDay is the index of the day the lifecycle rule expires a thumbnail
// written at t: the first midnight UTC after its age passes the rule's
// days (and the rule runs at night, see Day).
func (g *Generator) expiryDay(t time.Time) int {
	due := t.Add(time.Duration(g.cfg.ExpireDays) * 24 * time.Hour)
	return max(int(math.Ceil(due.Sub(g.start).Hours()/24)), g.day)
}

// lifecycleHour is the hour of the day the lifecycle rule runs.
const lifecycleHour = 3

// Create records that key was made now by someone other than the responder
// (a pre-generation worker), whose write is logged in the next hour's logs. Its first client read counts as a miss
// avoided. A key that exists is written again (a refresh): its lifecycle
// clock restarts, and its first read after the time the rule would have
// expired it counts as a miss avoided.
func (g *Generator) Create(key string) {
	defer func() { g.workerPuts = append(g.workerPuts, workerPut{key: key, at: g.now, size: g.thumbs[key].size}) }()
	if t := g.thumbs[key]; t != nil {
		g.stats.Refreshed++
		rescued := t.rescued
		if rescued.IsZero() && g.cfg.ExpireDays > 0 {
			rescued = g.start.AddDate(0, 0, g.expiryDay(t.created)).Add(lifecycleHour * time.Hour)
		}
		g.makeThumb(key, g.now, t.size, t.pregen)
		g.thumbs[key].read = t.read
		g.thumbs[key].rescued = rescued
		return
	}
	g.makeThumb(key, g.now, 20_000, true)
	g.stats.PregenCreated++
}

// OnUpload has fn called with the key of each original uploaded from now
// on, at the moment of the upload (as an S3 event notification would tell
// of it); fn may call Create.
func (g *Generator) OnUpload(fn func(key string)) { g.onUpload = fn }

// Written tells when a thumbnail that exists was last written.
func (g *Generator) Written(key string) (time.Time, bool) {
	if t := g.thumbs[key]; t != nil {
		return t.created, true
	}
	return time.Time{}, false
}

// Uploaded tells when an original that exists was uploaded.
func (g *Generator) Uploaded(key string) (time.Time, bool) {
	if i, ok := g.byKey[key]; ok {
		return g.originals[i].uploaded, true
	}
	return time.Time{}, false
}

// Delete records that key was deleted (by cleanup).
func (g *Generator) Delete(key string) { delete(g.thumbs, key) }

// Exists reports whether a thumbnail exists now.
func (g *Generator) Exists(key string) bool { return g.thumbs[key] != nil }

// PregenUnread counts thumbnails made through Create at least age ago that
// no client has read.
func (g *Generator) PregenUnread(age time.Duration) int {
	n := 0
	for _, t := range g.thumbs {
		if t.pregen && !t.read && g.now.Sub(t.created) >= age {
			n++
		}
	}
	return n
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Now is the end of the last hour generated (the start before the first).
func (g *Generator) Now() time.Time { return g.now }

// DaysLeft is the number of days still to generate.
func (g *Generator) DaysLeft() int { return g.cfg.WarmupDays + g.cfg.Days - g.day }

// Run generates every remaining day.
func (g *Generator) Run(ctx context.Context, sink Sink) error {
	for g.DaysLeft() > 0 {
		if err := g.Day(ctx, sink); err != nil {
			return err
		}
	}
	return nil
}

// Day generates the rest of the day's logs into sink: all of the next day,
// unless Hour has begun it. It returns ErrDone when every day has been
// generated.
func (g *Generator) Day(ctx context.Context, sink Sink) error {
	for {
		if err := g.Hour(ctx, sink); err != nil {
			return err
		}
		if g.hour == 0 {
			return nil
		}
	}
}

// Hour generates the next hour's logs into sink. It returns ErrDone when
// every day has been generated.
func (g *Generator) Hour(ctx context.Context, sink Sink) error {
	if g.DaysLeft() <= 0 {
		return ErrDone
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dayStart := g.start.AddDate(0, 0, g.day)
	if g.hour == 0 {
		g.uploads = [24]int{}
		for range g.cfg.UploadsPerDay {
			g.uploads[g.hourOfDay()]++
		}
		g.expiring = g.expiry[g.day]
		delete(g.expiry, g.day)
	}
	h := g.hour
	hourStart := dayStart.Add(time.Duration(h) * time.Hour)
	g.events = g.events[:0]
	mean := float64(g.cfg.RequestsPerDay) * g.diurnal[h]
	n := int(mean*(0.95+0.1*g.rng.Float64()) + 0.5)
	for range n {
		g.addEvent(evRequest, "")
	}
	for range g.uploads[h] {
		g.addEvent(evUpload, "")
	}
	if h == lifecycleHour {
		for _, e := range g.expiring {
			if t := g.thumbs[e.key]; t != nil && t.created.Equal(e.created) {
				g.addEvent(evExpire, e.key)
			}
		}
	}
	slices.SortFunc(g.events, func(a, b event) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.seq - b.seq
	})
	g.startObjects()
	for _, w := range g.workerPuts {
		g.now = w.at
		g.restRecord(accesslog.OpRESTPutObject, w.key, requestLine("PUT", w.key), 200, "", 0, w.size, 30+g.rng.Int64N(120), workerRequester, responderAgent)
	}
	g.workerPuts = g.workerPuts[:0]
	for _, e := range g.events {
		g.now = hourStart.Add(e.at)
		g.simulate(e)
	}
	if err := g.flushObjects(ctx, sink, hourStart); err != nil {
		return err
	}
	g.now = hourStart.Add(time.Hour)
	if g.hour++; g.hour == 24 {
		g.hour = 0
		g.day++
	}
	return nil
}

// hourOfDay draws an hour from the daily pattern.
func (g *Generator) hourOfDay() int {
	u := g.rng.Float64()
	for h, w := range g.diurnal {
		if u < w {
			return h
		}
		u -= w
	}
	return 23
}

func (g *Generator) addEvent(k eventKind, key string) {
	at := time.Duration(g.rng.Int64N(int64(time.Hour)))
	g.events = append(g.events, event{at: at, seq: len(g.events), kind: k, key: key})
}

// simulate plays one event and writes its records.
func (g *Generator) simulate(e event) {
	switch e.kind {
	case evUpload:
		o := g.addOriginal(g.now)
		g.stats.Uploads++
		g.restRecord(accesslog.OpRESTPutObject, o.key, requestLine("PUT", o.key), 200, "", 0, o.size, 400+g.rng.Int64N(4000), uploaderRequester, "aws-cli/2.22.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1")
		if g.onUpload != nil {
			g.onUpload(o.key)
		}
	case evExpire:
		t := g.thumbs[e.key]
		if t == nil {
			return
		}
		delete(g.thumbs, e.key)
		g.stats.Expirations++
		g.lifecycleRecord(e.key, t.size)
	case evRequest:
		g.stats.Requests++
		g.bot = g.cfg.BotShare > 0 && g.rng.Float64() < g.cfg.BotShare // drawn only when asked: the other workloads stay as they were
		if g.bot {
			g.stats.BotRequests++
		}
		u := g.rng.Float64()
		switch {
		case u < g.cfg.NoiseShare:
			g.stats.Noise++
			g.noise()
		case u < g.cfg.NoiseShare+g.cfg.OriginalShare:
			g.stats.OriginalReads++
			o := g.pickOriginal()
			g.websiteRecord(o.key, o.getURI, 200, "", o.size, o.size, 30+g.rng.Int64N(400))
		default:
			g.thumbnailRequest()
		}
	}
}

// pickOriginal draws an original: a recent upload, or one by popularity.
func (g *Generator) pickOriginal() *original {
	if g.rng.Float64() < g.cfg.RecentShare {
		since := g.now.Add(-time.Duration(g.cfg.RecentDays) * 24 * time.Hour)
		first := sort.Search(len(g.originals), func(i int) bool { return !g.originals[i].uploaded.Before(since) })
		if first < len(g.originals) {
			return &g.originals[first+g.rng.IntN(len(g.originals)-first)]
		}
	}
	if g.zipfN != len(g.order) {
		g.zipf, g.zipfN = rand.NewZipf(g.rng, g.cfg.ZipfS, 1, uint64(len(g.order)-1)), len(g.order)
	}
	return &g.originals[g.order[g.zipf.Uint64()]]
}

// Crawlers, as access logs show them.
var (
	botAgents = []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Googlebot-Image/1.0",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	}
	botIPs = []string{"66.249.66.1", "66.249.66.33", "66.249.79.10", "40.77.167.2", "157.55.39.7"}
)

// missingStems is how many originals that do not exist are asked for.
const missingStems = 500

// missingRequest plays a request for a thumbnail of an original that does
// not exist: the website misses, the responder finds no original and
// stores nothing.
func (g *Generator) missingRequest() {
	g.stats.Misses++
	g.stats.MissingMisses++
	stem := fmt.Sprintf("photos/gone%04d", g.rng.IntN(missingStems))
	c := g.dominant[g.rng.IntN(len(g.dominant))]
	key := stem + c.suffix
	g.websiteRecord(key, requestLine("GET", key), 404, "NoSuchKey", 350, 0, 2+g.rng.Int64N(10))
	g.now = g.now.Add(time.Duration(50+g.rng.IntN(300)) * time.Millisecond)
	for _, ext := range []string{".jpg", ".jpeg", ".png", ".webp"} {
		g.restRecord(accesslog.OpRESTGetObject, stem+ext, requestLine("GET", stem+ext), 404, "NoSuchKey", 300, 0, 10, responderRequester, responderAgent)
	}
}

// thumbnailRequest plays a client asking the website for a thumbnail.
func (g *Generator) thumbnailRequest() {
	if g.cfg.MissingShare > 0 && g.rng.Float64() < g.cfg.MissingShare {
		g.missingRequest()
		return
	}
	o := g.pickOriginal()
	var c sizeClass
	stray := false
	switch u := g.rng.Float64(); {
	case u < g.cfg.StrayShare:
		c, stray = g.tail[g.tailZipf.Uint64()], true
	case u < g.cfg.StrayShare+g.cfg.TailShare:
		c = g.tail[o.embeds[g.rng.IntN(len(o.embeds))]]
	default:
		w := g.rng.IntN(g.domTotal)
		for _, d := range g.dominant {
			if w < d.weight {
				c = d
				break
			}
			w -= d.weight
		}
	}
	g.keyBuf = append(append(g.keyBuf[:0], o.stem...), c.suffix...)
	if base, ok := strings.CutSuffix(c.suffix, ".jpg"); ok && g.cfg.OwnFormat {
		g.keyBuf = append(append(append(g.keyBuf[:len(o.stem)], base...), '.'), o.ext...)
	}
	if t := g.thumbs[string(g.keyBuf)]; t != nil {
		g.stats.Hits++
		if t.pregen && !t.read {
			g.stats.PregenFirstReads++
		}
		if !t.rescued.IsZero() && !g.now.Before(t.rescued) {
			g.stats.RefreshedReads++
			t.rescued = time.Time{}
		}
		t.read = true
		g.websiteRecord(t.key, t.getURI, 200, "", t.size, t.size, 3+g.rng.Int64N(40))
		return
	}
	g.stats.Misses++
	if stray {
		g.stats.StrayMisses++
	}
	key := string(g.keyBuf)
	uri := requestLine("GET", key)
	switch g.cfg.MissStatus {
	case 404:
		g.websiteRecord(key, uri, 404, "NoSuchKey", 350, 0, 2+g.rng.Int64N(10))
	case 403:
		g.websiteRecord(key, uri, 403, "AccessDenied", 243, 0, 2+g.rng.Int64N(10))
	default:
		g.websiteRecord(key, uri, 302, "", 0, 0, 2+g.rng.Int64N(10))
	}
	// The redirect sends the client to the responder, which reads the
	// original and stores the thumbnail a moment later.
	size := c.bytes/2 + g.rng.Int64N(c.bytes)
	g.now = g.now.Add(time.Duration(50+g.rng.IntN(300)) * time.Millisecond)
	g.restRecord(accesslog.OpRESTGetObject, o.key, o.getURI, 200, "", o.size, o.size, 40+g.rng.Int64N(200), responderRequester, responderAgent)
	g.now = g.now.Add(time.Duration(100+g.rng.IntN(900)) * time.Millisecond)
	g.restRecord(accesslog.OpRESTPutObject, key, requestLine("PUT", key), 200, "", 0, size, 20+g.rng.Int64N(80), responderRequester, responderAgent)
	g.makeThumb(key, g.now, size, false)
	g.stats.ThumbnailWrites++
}

// noise plays a request the analyzer should ignore.
func (g *Generator) noise() {
	switch g.rng.IntN(4) {
	case 0:
		g.websiteRecord("favicon.ico", "GET /favicon.ico HTTP/1.1", 404, "NoSuchKey", 350, 0, 2)
	case 1:
		o := g.pickOriginal()
		g.rec = g.baseRecord(accesslog.OpWebsiteHeadObject, o.key)
		g.rec.RequestURI = requestLine("HEAD", o.key)
		g.rec.HTTPStatus, g.rec.ObjectSize, g.rec.TotalTime = 200, o.size, 3*time.Millisecond
		g.website()
		g.emit()
	case 2:
		g.restRecord("REST.GET.BUCKET", "", "GET /?list-type=2&prefix=photos%2F HTTP/1.1", 200, "", 4200, 0, 25, responderRequester, responderAgent)
	default:
		o := g.pickOriginal()
		g.restRecord(accesslog.OpRESTHeadObject, o.key, requestLine("HEAD", o.key), 200, "", 0, o.size, 8, responderRequester, responderAgent)
	}
}

const (
	responderRequester = "arn:aws:sts::123456789012:assumed-role/s3thumb/responder"
	workerRequester    = "arn:aws:sts::123456789012:assumed-role/s3thumb/worker"
	uploaderRequester  = "arn:aws:iam::123456789012:user/uploader"
	responderAgent     = "s3thumb/1.0 aws-sdk-go-v2/1.41.0 os/linux lang/go#1.26 md/GOOS#linux api/s3#1.114.10"
)

// baseRecord starts a record at the current time.
func (g *Generator) baseRecord(op, key string) accesslog.Record {
	rid := g.rng.Uint64()
	const hex = "0123456789ABCDEF"
	var rb [16]byte
	for i := range rb {
		rb[i] = hex[rid>>(60-4*i)&15]
	}
	return accesslog.Record{
		BucketOwner: g.cfg.Owner, Bucket: g.cfg.Bucket, Time: g.now, RequestID: string(rb[:]),
		Operation: op, Key: key, HostID: g.hostIDs[rid%uint64(len(g.hostIDs))],
	}
}

// website fills the fields of a request to the website endpoint.
func (g *Generator) website() {
	g.rec.RemoteIP = g.ips[g.rng.IntN(len(g.ips))]
	g.rec.UserAgent = g.agents[g.rng.IntN(len(g.agents))]
	if g.bot {
		g.rec.RemoteIP, g.rec.UserAgent = botIPs[g.rng.IntN(len(botIPs))], botAgents[g.rng.IntN(len(botAgents))]
	}
	if g.rng.IntN(5) < 3 {
		g.rec.Referer = g.referers[g.rng.IntN(len(g.referers))]
	}
	g.rec.HostHeader = g.webHost
}

func (g *Generator) websiteRecord(key, uri string, status int, errCode string, sent, size, ms int64) {
	g.rec = g.baseRecord(accesslog.OpWebsiteGetObject, key)
	g.rec.RequestURI = uri
	g.rec.HTTPStatus, g.rec.ErrorCode, g.rec.BytesSent, g.rec.ObjectSize = status, errCode, sent, size
	g.rec.TotalTime = time.Duration(ms) * time.Millisecond
	g.rec.TurnAround = time.Duration(ms/2) * time.Millisecond
	g.website()
	g.emit()
}

func (g *Generator) restRecord(op, key, uri string, status int, errCode string, sent, size, ms int64, requester, agent string) {
	g.rec = g.baseRecord(op, key)
	g.rec.RemoteIP = g.restIPs[g.rng.IntN(len(g.restIPs))]
	g.rec.Requester = requester
	g.rec.RequestURI = uri
	g.rec.HTTPStatus, g.rec.ErrorCode, g.rec.BytesSent, g.rec.ObjectSize = status, errCode, sent, size
	g.rec.TotalTime = time.Duration(ms) * time.Millisecond
	g.rec.TurnAround = time.Duration(ms*2/3) * time.Millisecond
	g.rec.UserAgent = agent
	g.rec.SignatureVersion, g.rec.CipherSuite, g.rec.AuthType = "SigV4", "TLS_AES_128_GCM_SHA256", "AuthHeader"
	g.rec.HostHeader = g.restHost
	g.rec.TLSVersion = "TLSv1.3"
	g.emit()
}

func (g *Generator) lifecycleRecord(key string, size int64) {
	g.rec = g.baseRecord(accesslog.OpExpireObject, key)
	g.rec.Requester = "AmazonS3"
	g.rec.ObjectSize = size
	g.emit()
}

// requestLine is the request line a client sends for key, the key
// percent-encoded as a path.
func requestLine(method, key string) string {
	return method + " " + (&url.URL{Path: "/" + key}).EscapedPath() + " HTTP/1.1"
}

// startObjects opens the hour's log objects.
func (g *Generator) startObjects() {
	eras := []int{accesslog.S3FieldsMin, accesslog.S3FieldsTLS, accesslog.S3FieldsAccessPoint, accesslog.S3FieldsACL, accesslog.S3FieldsLatest}
	g.objs = slices.Grow(g.objs[:0], g.cfg.ObjectsPerHour)[:g.cfg.ObjectsPerHour]
	// About 1.2 records of about 500 bytes per request, at the busiest hour.
	want := min(g.cfg.RequestsPerDay/12*600/g.cfg.ObjectsPerHour, 64<<20)
	for i := range g.objs {
		o := &g.objs[i]
		o.buf = slices.Grow(o.buf[:0], want)
		o.fields = g.cfg.Fields
		if o.fields == 0 {
			o.fields = eras[g.rng.IntN(len(eras))]
		}
		o.layout = g.cfg.Layout
		if o.layout == LayoutBoth {
			o.layout = []string{LayoutSimple, LayoutPartitioned}[g.rng.IntN(2)]
		}
	}
}

// emit writes g.rec to one of the hour's objects, now and then twice, and
// now and then adds a malformed line.
func (g *Generator) emit() {
	if g.day < g.cfg.WarmupDays {
		return // not logged
	}
	n := len(g.objs)
	i := g.rng.IntN(n)
	o := &g.objs[i]
	start := len(o.buf)
	o.buf = accesslog.AppendS3(o.buf, &g.rec, o.fields)
	g.stats.Records++
	g.stats.Lines++
	if g.rng.Float64() < g.cfg.DuplicateRate {
		line := o.buf[start:]
		d := &g.objs[(i+1+g.rng.IntN(max(n-1, 1)))%n]
		if d.fields != o.fields { // the same record, as the other object's era writes it
			d.buf = accesslog.AppendS3(d.buf, &g.rec, d.fields)
		} else {
			d.buf = append(d.buf, line...)
		}
		g.stats.Duplicates++
		g.stats.Lines++
	}
	if g.rng.Float64() < g.cfg.MalformedRate {
		d := &g.objs[g.rng.IntN(n)]
		d.buf = g.appendMalformed(d.buf, d.fields)
		g.stats.Malformed++
		g.stats.Lines++
	}
}

// appendMalformed appends a line that is not a record: one cut short, binary
// garbage, a bad percent-escape, a bad time or an unterminated quote.
func (g *Generator) appendMalformed(dst []byte, fields int) []byte {
	rec := g.baseRecord(accesslog.OpWebsiteGetObject, "photos/KEY-PLACEHOLDER_200x200.jpg")
	rec.RequestURI = "GET /photos/x_200x200.jpg HTTP/1.1"
	rec.HTTPStatus, rec.BytesSent, rec.ObjectSize, rec.TotalTime = 200, 9000, 9000, 5*time.Millisecond
	rec.UserAgent, rec.HostHeader = g.agents[0], "example"
	line := accesslog.AppendS3(g.scratch[:0], &rec, fields)
	g.scratch = line[:0]
	line = line[:len(line)-1]
	switch g.rng.IntN(5) {
	case 0:
		// Cut before the request line: too few fields whatever the cut.
		end := bytes.Index(line, []byte(` "`))
		line = line[:10+g.rng.IntN(end-10)]
	case 1:
		// Starts with a letter: a first line of '#' or gzip magic would
		// change how the whole object is read.
		garbage := []byte{byte('a' + g.rng.IntN(26))}
		for range 20 + g.rng.IntN(180) {
			b := byte(g.rng.IntN(256))
			if b == '\n' {
				b = 0
			}
			garbage = append(garbage, b)
		}
		line = garbage
	case 2:
		line = bytes.Replace(line, []byte("KEY-PLACEHOLDER"), []byte("bad%zzescape"), 1)
	case 3:
		i := bytes.IndexByte(line, '[')
		copy(line[i+4:i+7], "Foo")
	default:
		line = bytes.Replace(line, []byte(` HTTP/1.1" `), []byte(` HTTP/1.1 `), 1)
	}
	dst = append(dst, line...)
	return append(dst, '\n')
}

// flushObjects delivers the hour's non-empty objects to the sink.
func (g *Generator) flushObjects(ctx context.Context, sink Sink, hourStart time.Time) error {
	for i := range g.objs {
		o := &g.objs[i]
		if len(o.buf) == 0 {
			continue
		}
		delivered := hourStart.Add(time.Hour + time.Duration(5*60+g.rng.IntN(55*60))*time.Second)
		if g.rng.Float64() < g.cfg.LateShare {
			delivered = delivered.Add(time.Duration(1+g.rng.IntN(23)) * time.Hour)
		}
		unique := fmt.Sprintf("%016X", g.rng.Uint64())
		var key string
		if o.layout == LayoutPartitioned {
			key = accesslog.PartitionedLogKey(g.cfg.Prefix, g.cfg.Account, g.cfg.Region, g.cfg.Bucket, hourStart, delivered, unique)
		} else {
			key = accesslog.SimpleLogKey(g.cfg.Prefix, delivered, unique)
		}
		body := o.buf
		if g.cfg.Gzip {
			key += ".gz"
			var err error
			if body, err = g.compress(body); err != nil {
				return fmt.Errorf("compress log object %s: %w", key, err)
			}
		}
		if err := sink.WriteObject(ctx, key, body); err != nil {
			return fmt.Errorf("write log object %s: %w", key, err)
		}
		g.stats.Objects++
	}
	return nil
}

func (g *Generator) compress(b []byte) ([]byte, error) {
	g.gzBuf.Reset()
	if g.gz == nil {
		g.gz = gzip.NewWriter(&g.gzBuf)
	} else {
		g.gz.Reset(&g.gzBuf)
	}
	if _, err := g.gz.Write(b); err != nil {
		return nil, err
	}
	if err := g.gz.Close(); err != nil {
		return nil, err
	}
	return g.gzBuf.Bytes(), nil
}
