package testserver

import (
	"net/http"
	"strconv"
	"testing"
)

// Moto starts moto's server (the Python package moto, 5.x) on 127.0.0.1.
// It speaks S3 and SQS on the same endpoint; of the servers here it is the
// one that stores and returns lifecycle, server access logging and
// block-public-access configurations, and it checks, as AWS does, that a
// logging target bucket's policy lets the logging service write. It accepts
// any credentials. moto_server is not installed by
// scripts/install-test-tools.sh (it comes from PyPI, which is not
// reachable): the Go machine image ships it. It is stopped when the test
// ends.
func Moto(t testing.TB) *S3 {
	t.Helper()
	bin := program(t, "moto_server")
	ports := start(t, command{
		name: "moto",
		args: func(ports []int) []string {
			return []string{bin, "-H", "127.0.0.1", "-p", strconv.Itoa(ports[0])}
		},
		urls: func(ports []int) []string { return []string{loopbackURL(ports[0]) + "/moto-api/"} },
		okay: func(resp *http.Response) bool { return resp.StatusCode == http.StatusOK },
	})
	return &S3{
		Endpoint:  loopbackURL(ports[0]),
		Region:    Region,
		AccessKey: "s3thumb-test",
		SecretKey: "s3thumb-test",
	}
}
