package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/store"
)

// cursorVersion is the version of the cursor object this package writes.
const cursorVersion = 1

// maxCursorBytes bounds the cursor read: it holds a week of log object
// keys, about 100 bytes each.
const maxCursorBytes = 256 << 20

// Cursor is the small object a run writes after the state: the log
// objects that state has read, when the run finished, and which state
// object it describes. A run that finds no log object the cursor does not
// name can stop without reading the state, which is all of a run's cost
// when nothing arrived.
//
// It is only ever a hint that nothing is new. It is written after the
// state, so a run that stops between the two leaves a cursor that names
// fewer objects than the state has read, never more; and it names the
// state's size and ETag, so a state replaced or removed behind it is read.
type Cursor struct {
	Version   int              `json:"version"`
	LastRun   time.Time        `json:"last_run"`
	Watermark int64            `json:"watermark"`
	Done      map[string]int64 `json:"done"`
	StateSize int64            `json:"state_size"`
	StateETag string           `json:"state_etag"`
	// Generation and Deltas are the base's generation and its deltas.
	Generation uint64   `json:"generation"`
	Deltas     []string `json:"deltas"`
	// Settings identifies the decision settings of the run that wrote it:
	// a run with other settings decides, new logs or not.
	Settings string `json:"settings"`
}

// Read tells whether the log object key, delivered at unix time at, has
// been read: named in Done, or older than Watermark.
func (c *Cursor) Read(key string, at int64) bool {
	_, done := c.Done[key]
	return done || at < c.Watermark
}

// Read tells whether the state has read the log object key, delivered at
// unix time at.
func (s *State) Read(key string, at int64) bool {
	_, done := s.Done[key]
	return done || at < s.Watermark
}

// LoadCursor reads the cursor from st: nil without one, and an error
// when it cannot be read or is not a cursor this package wrote.
func LoadCursor(ctx context.Context, st store.Store) (*Cursor, error) {
	obj, err := st.Get(ctx, layout.AnalyzerCursor)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cursor %s: %w", layout.AnalyzerCursor, err)
	}
	defer obj.Body.Close()
	b, err := store.ReadAll(obj.Body, nil, maxCursorBytes)
	if err != nil {
		return nil, fmt.Errorf("read cursor %s: %w", layout.AnalyzerCursor, err)
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cursor %s: %w", layout.AnalyzerCursor, err)
	}
	if c.Version != cursorVersion || c.Done == nil || c.StateSize <= 0 {
		return nil, fmt.Errorf("cursor %s: version %d, %d log objects, state of %d bytes: not a cursor this build writes",
			layout.AnalyzerCursor, c.Version, len(c.Done), c.StateSize)
	}
	return &c, nil
}

// Describes tells whether the state stored in st is the one the cursor
// was written for (same size and ETag).
func (c *Cursor) Describes(ctx context.Context, st store.Store) (bool, error) {
	at, err := st.Head(ctx, stateKey)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read state %s: %w", stateKey, err)
	}
	if at.Size != c.StateSize || at.ETag == "" || at.ETag != c.StateETag {
		return false, nil
	}
	deltas, _, err := listDeltas(ctx, st, c.Generation)
	if err != nil {
		return false, err
	}
	return slices.Equal(deltas, c.Deltas), nil
}

// SaveCursor writes the cursor for s, which SaveState has just written to
// st by a run with these settings; the base's size and ETag are those s
// read or wrote, so this costs no request but the write.
func SaveCursor(ctx context.Context, st store.Store, s *State, settings string) error {
	if s.baseETag == "" || s.baseBytes <= 0 {
		return fmt.Errorf("write cursor: the ETag of %s is not known", stateKey)
	}
	b, err := json.Marshal(Cursor{Version: cursorVersion, LastRun: s.LastRun, Watermark: s.Watermark, Done: s.Done,
		StateSize: s.baseBytes, StateETag: s.baseETag, Generation: s.gen, Deltas: s.deltas, Settings: settings})
	if err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if err := st.Put(ctx, layout.AnalyzerCursor, b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write cursor %s: %w", layout.AnalyzerCursor, err)
	}
	return nil
}
