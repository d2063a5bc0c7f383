// Package layout names the objects s3thumb's parts share in its stores, so
// that the analyzer that writes them, the workers that read them and the
// IAM policies setup writes for them agree: one definition each.
package layout

// StatePrefix is the prefix, in the log bucket, under which setup's
// policies let the analyzer keep its state (`analyze --state
// s3://LOGBUCKET/s3thumb-state/`).
const StatePrefix = "s3thumb-state/"

// The objects in the analyzer's state store.
const (
	// AnalyzerState is the analyzer's state between runs, in its own
	// binary format; AnalyzerStateV1 is where builds before it kept it
	// (gzip JSON), read once and removed by the first save.
	AnalyzerState   = "analyzer-state.bin"
	AnalyzerStateV1 = "analyzer-state.json.gz"
	// AnalyzerCursor is the small object a run writes after the state: the
	// log objects that state has read, for runs that find nothing new.
	AnalyzerCursor = "analyzer-cursor.json"
	// AnalyzerLock is held by a run while it works.
	AnalyzerLock = "analyzer.lock"
	// PopularClasses is where each run publishes the popular size classes,
	// which workers read to make a new upload's thumbnails.
	PopularClasses = "popular-classes.json"
)
