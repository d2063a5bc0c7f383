package awssetup

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrNoBucket means a bucket does not exist.
var ErrNoBucket = errors.New("no such bucket")

// AccessDeniedError means the credentials in use may not make a call.
type AccessDeniedError struct {
	Action   string // the IAM action, e.g. "s3:PutBucketPolicy"
	Resource string // the ARN or name it was refused on
	Message  string // the server's explanation, if any
	Err      error
}

func (e *AccessDeniedError) Error() string {
	msg := fmt.Sprintf("access denied: the credentials in use may not %s on %s", e.Action, e.Resource)
	if e.Message != "" {
		msg += " (" + e.Message + ")"
	}
	return msg
}

func (e *AccessDeniedError) Unwrap() error { return e.Err }

// PublicPolicyBlocked reports whether the refusal came from a
// block-public-access setting rather than from IAM.
func (e *AccessDeniedError) PublicPolicyBlocked() bool {
	return strings.Contains(e.Message, "BlockPublicPolicy") || strings.Contains(e.Message, "block public access")
}

// CredentialsError means the server refused the credentials themselves
// (unknown key, wrong secret, expired token).
type CredentialsError struct {
	Code    string
	Message string
	Err     error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("the AWS credentials were refused (%s: %s)", e.Code, e.Message)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// NotImplementedError means the server does not implement a call that a
// part of the setup needs; S3-compatible servers often lack lifecycle and
// logging.
type NotImplementedError struct {
	Part   string // "lifecycle", "logging", ...
	Action string
	Err    error
}

func (e *NotImplementedError) Error() string {
	return fmt.Sprintf("%s: the server does not implement %s (501 NotImplemented)", e.Part, e.Action)
}

func (e *NotImplementedError) Unwrap() error { return e.Err }

// WrongRegionError means a bucket is in another region than the one the
// requests were signed for.
type WrongRegionError struct {
	Bucket string
	Region string // where the bucket is
	Want   string // the region in use
}

func (e *WrongRegionError) Error() string {
	return fmt.Sprintf("bucket %s is in region %s, not %s", e.Bucket, e.Region, e.Want)
}

// credentialCodes are the error codes of credentials the server rejects.
var credentialCodes = map[string]bool{
	"InvalidAccessKeyId":          true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"InvalidToken":                true,
	"TokenRefreshRequired":        true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"IncompleteSignature":         true,
}

// apiCode is the error code and message of a service error, if it is one.
func apiCode(err error) (code, message string) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	return "", ""
}

// httpStatus is the HTTP status of a failed call, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// bucketRegionOf is the x-amz-bucket-region header of a failed call.
func bucketRegionOf(err error) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("x-amz-bucket-region")
	}
	return ""
}

// isCode reports whether err is a service error with one of the codes.
func isCode(err error, codes ...string) bool {
	code, _ := apiCode(err)
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}

// classify turns a failed call into an error a person can act on: access
// denied naming the action, refused credentials, a missing feature, a bucket
// in another region; anything else is wrapped with the action and resource.
func classify(part, action, resource string, err error) error {
	code, msg := apiCode(err)
	status := httpStatus(err)
	switch {
	case credentialCodes[code]:
		return &CredentialsError{Code: code, Message: msg, Err: err}
	case code == "AccessDenied" || code == "AccessDeniedException" || code == "AllAccessDisabled" ||
		(status == http.StatusForbidden && (code == "" || code == "Forbidden")):
		return &AccessDeniedError{Action: action, Resource: resource, Message: msg, Err: err}
	case code == "NotImplemented" || status == http.StatusNotImplemented:
		return &NotImplementedError{Part: part, Action: action, Err: err}
	}
	return fmt.Errorf("%s: %s on %s: %w", part, action, resource, err)
}

// wrongRegion recognises the answers S3 gives a request sent to another
// region than the bucket's, and names the bucket's region.
func wrongRegion(bucket, want string, err error) error {
	region := bucketRegionOf(err)
	if region == "" || region == want {
		return nil
	}
	if status := httpStatus(err); status == http.StatusMovedPermanently || status == http.StatusBadRequest ||
		isCode(err, "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException") {
		return &WrongRegionError{Bucket: bucket, Region: region, Want: want}
	}
	return nil
}
