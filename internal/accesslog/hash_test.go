package accesslog

import (
	"testing"
	"time"
)

// TestRequestIDHash: with FieldRequestID skipped, a record carries the
// hash of its request ID instead of the string, for S3 and CloudFront
// lines alike, and the same hash a caller computes from the string.
func TestRequestIDHash(t *testing.T) {
	const id = "3E57427F33A59F07"
	rec := Record{Bucket: "b", Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), RequestID: id, Operation: OpWebsiteGetObject, Key: "photos/a_200x200.jpg", HTTPStatus: 200}
	line := AppendS3(nil, &rec, 27)
	p := Parser{Skip: FieldRequestID}
	var got Record
	if err := p.ParseS3(line[:len(line)-1], &got); err != nil {
		t.Fatal(err)
	}
	if got.RequestID != "" || got.RequestIDHash != HashPart(HashStart, id) || got.RequestIDHash == 0 {
		t.Errorf("RequestID %q, hash %x; want none and %x", got.RequestID, got.RequestIDHash, HashPart(HashStart, id))
	}
	if HashPart(HashStart, id) != HashPart(HashStart, []byte(id)) {
		t.Error("string and bytes hash differently")
	}
	if HashPart(HashPart(HashStart, "ab"), "c") == HashPart(HashPart(HashStart, "a"), "bc") {
		t.Error("parts are not delimited")
	}
}
