package store

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestClassify covers the S3 answers the local test servers cannot give on
// demand, such as the 409 AWS sends while another conditional write of the
// same key is in flight.
func TestClassify(t *testing.T) {
	withStatus := func(code int, err error) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: err}
	}
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"NoSuchKey", withStatus(404, apiErr("NoSuchKey")), ErrNotFound},
		{"HEAD 404", withStatus(404, apiErr("NotFound")), ErrNotFound},
		{"bare 404", withStatus(404, errors.New("no body")), ErrNotFound},
		{"NoSuchBucket", withStatus(404, apiErr("NoSuchBucket")), nil},
		{"PreconditionFailed", withStatus(412, apiErr("PreconditionFailed")), ErrExists},
		{"bare 412", withStatus(412, errors.New("no body")), ErrExists},
		{"ConditionalRequestConflict", withStatus(409, apiErr("ConditionalRequestConflict")), ErrExists},
		{"other 409", withStatus(409, apiErr("OperationAborted")), nil},
		{"AccessDenied", withStatus(403, apiErr("AccessDenied")), nil},
		{"wrapped", fmt.Errorf("op: %w", withStatus(412, apiErr("PreconditionFailed"))), ErrExists},
		{"network", errors.New("connection refused"), nil},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}
