package awssetup

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError builds the error value the SDK returns for a failed call: a
// response error with the HTTP answer, wrapping the service's error code.
func sdkError(status int, code, message string, header http.Header) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: message}
	if code == "" {
		inner = errors.New("http response error")
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: header}},
		Err:      inner,
	}}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // the error message
		kind any    // a pointer to the error type expected
	}{
		{"access denied names the action", sdkError(403, "AccessDenied", "Access Denied", nil),
			"access denied: the credentials in use may not s3:PutBucketPolicy on arn:aws:s3:::b (Access Denied)", new(*AccessDeniedError)},
		{"HEAD 403 has no code", sdkError(403, "", "", nil),
			"access denied: the credentials in use may not s3:PutBucketPolicy on arn:aws:s3:::b", new(*AccessDeniedError)},
		{"SQS access denied", sdkError(400, "AccessDeniedException", "not authorized", nil),
			"access denied: the credentials in use may not s3:PutBucketPolicy on arn:aws:s3:::b (not authorized)", new(*AccessDeniedError)},
		{"unknown key", sdkError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", nil),
			"the AWS credentials were refused (InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.)", new(*CredentialsError)},
		{"wrong secret", sdkError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match", nil),
			"the AWS credentials were refused (SignatureDoesNotMatch: The request signature we calculated does not match)", new(*CredentialsError)},
		{"expired", sdkError(400, "ExpiredToken", "The provided token has expired.", nil),
			"the AWS credentials were refused (ExpiredToken: The provided token has expired.)", new(*CredentialsError)},
		{"not implemented", sdkError(501, "NotImplemented", "A header you provided implies functionality that is not implemented.", nil),
			"policy: the server does not implement s3:PutBucketPolicy (501 NotImplemented)", new(*NotImplementedError)},
		{"other", sdkError(500, "InternalError", "oops", nil),
			"policy: s3:PutBucketPolicy on arn:aws:s3:::b: operation error S3: Op, http response error StatusCode: 500, api error InternalError: oops", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("policy", "s3:PutBucketPolicy", "arn:aws:s3:::b", tt.err)
			if got.Error() != tt.want {
				t.Errorf("message\n%q\nwant\n%q", got, tt.want)
			}
			if tt.kind != nil && !errors.As(got, tt.kind) {
				t.Errorf("%T is not %T", got, tt.kind)
			}
			if !errors.Is(got, tt.err) {
				t.Error("the SDK's error is not wrapped")
			}
		})
	}
}

func TestAccessDeniedByPublicAccessBlock(t *testing.T) {
	err := classify("policy", "s3:PutBucketPolicy", "arn:aws:s3:::b", sdkError(403, "AccessDenied",
		"User: arn:aws:iam::1:user/x is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::b\" "+
			"because public policies are blocked by the BlockPublicPolicy block public access setting.", nil))
	var ad *AccessDeniedError
	if !errors.As(err, &ad) || !ad.PublicPolicyBlocked() {
		t.Errorf("%v: not recognised as blocked by a block-public-access setting", err)
	}
	plain := &AccessDeniedError{Message: "Access Denied"}
	if plain.PublicPolicyBlocked() {
		t.Error("a plain access denied is taken for a block-public-access refusal")
	}
}

func TestWrongRegion(t *testing.T) {
	h := http.Header{}
	h.Set("x-amz-bucket-region", "eu-west-1")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"HEAD 301", sdkError(301, "", "", h), "bucket b is in region eu-west-1, not us-east-1"},
		{"PermanentRedirect", sdkError(301, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.", h), "bucket b is in region eu-west-1, not us-east-1"},
		{"AuthorizationHeaderMalformed", sdkError(400, "AuthorizationHeaderMalformed", "the region 'us-east-1' is wrong; expecting 'eu-west-1'", h), "bucket b is in region eu-west-1, not us-east-1"},
		{"no header", sdkError(301, "", "", nil), ""},
		{"same region", sdkError(403, "AccessDenied", "", func() http.Header { h := http.Header{}; h.Set("x-amz-bucket-region", "us-east-1"); return h }()), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrongRegion("b", "us-east-1", tt.err)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
