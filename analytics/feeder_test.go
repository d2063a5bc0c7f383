package analytics

import (
	"fmt"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// feeder returns a function that adds one record to s through an
// aggregator, each with a request ID of its own.
func feeder(s *state.State) func(at time.Time, op, key string, status int, ip, agent string) {
	a := NewAggregator(s)
	n := 0
	return func(at time.Time, op, key string, status int, ip, agent string) {
		n++
		a.Add(&accesslog.Record{Time: at, RequestID: fmt.Sprint(n), Operation: op, Key: key, HTTPStatus: status,
			ObjectSize: 10, RemoteIP: ip, UserAgent: agent})
	}
}
