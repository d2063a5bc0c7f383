package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		opts Options
		want error // nil: any error
	}{
		{"", Options{}, ErrInvalidURL},
		{"photos", Options{}, ErrInvalidURL},
		{"ftp://host/q", Options{}, ErrInvalidURL},
		{"file://", Options{}, ErrInvalidURL},
		{"sqs://", Options{}, ErrInvalidURL},
		{"sqs://bad name", Options{}, ErrInvalidURL},
		{"sqs://a/b", Options{}, ErrInvalidURL},
		{"sqs://" + string(make([]byte, 81)), Options{}, ErrInvalidURL},
		{"https://sqs.us-east-1.amazonaws.com", Options{}, ErrInvalidURL},
		{"https://sqs.us-east-1.amazonaws.com/", Options{}, ErrInvalidURL},
		{"http://127.0.0.1:1/000000000000/q?x=1", Options{}, ErrInvalidURL},
		{"http://user:pw@127.0.0.1:1/000000000000/q", Options{}, ErrInvalidURL},
		{"file:///tmp/q", Options{VisibilityTimeout: -time.Second}, nil},
		{"file:///tmp/q", Options{VisibilityTimeout: 13 * time.Hour}, nil},
		{"file:///tmp/q", Options{MaxReceives: -1}, nil},
	}
	for _, tt := range tests {
		q, err := Open(context.Background(), tt.url, tt.opts)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Open(%q, %+v) = %v, %v; want error %v", tt.url, tt.opts, q, err, tt.want)
		}
	}
}

func TestRegionOfHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host, want string
		ok         bool
	}{
		{"sqs.eu-west-1.amazonaws.com", "eu-west-1", true},
		{"sqs.cn-north-1.amazonaws.com.cn", "cn-north-1", true},
		{"us-west-2.queue.amazonaws.com", "us-west-2", true},
		{"sqs.amazonaws.com", "", false},
		{"sqs.a.b.amazonaws.com", "", false},
		{"127.0.0.1", "", false},
		{"sqs.us-east-1.localhost", "", false},
		{"sqs.us-east-1.amazonaws.com.evil.example", "", false},
	}
	for _, tt := range tests {
		if got, ok := regionOfHost(tt.host); got != tt.want || ok != tt.ok {
			t.Errorf("regionOfHost(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.ok)
		}
	}
}
