package analytics_test

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// The role a key ends with does not depend on the order the log records
// are read in (S3 delivers log objects late and out of order): the newest
// write decides.
func TestRoleIndependentOfLogOrder(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const key = "social/banner_1200x630.jpg"
	thumbWrite := &accesslog.Record{Time: at, RequestID: "A", Operation: accesslog.OpRESTPutObject, Key: key,
		HTTPStatus: 200, UserAgent: "aws-sdk-go-v2/1.41.0 app/s3thumb", ObjectSize: 10}
	upload := &accesslog.Record{Time: at.Add(time.Hour), RequestID: "B", Operation: accesslog.OpRESTPutObject, Key: key,
		HTTPStatus: 200, UserAgent: "aws-cli/2.22.0", ObjectSize: 1000}
	roles := map[string]state.Role{}
	for name, order := range map[string][]*accesslog.Record{
		"in order":     {thumbWrite, upload},
		"out of order": {upload, thumbWrite},
	} {
		s := state.NewState()
		agg := analytics.NewAggregator(s)
		for _, r := range order {
			c := *r
			agg.Add(&c)
		}
		th, err := s.ThumbState(key)
		if err != nil {
			t.Fatal(err)
		}
		roles[name] = th.Role
	}
	if roles["in order"] != roles["out of order"] {
		t.Errorf("role after the same records: %d in order, %d out of order (the newest write, the upload, should decide: RoleOriginal=%d)",
			roles["in order"], roles["out of order"], state.RoleOriginal)
	}
}
