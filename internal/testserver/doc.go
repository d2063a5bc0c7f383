// Package testserver starts real S3 and SQS servers on 127.0.0.1 for
// integration tests: versitygw (the main S3 server), s3rver (for AWS's
// website redirects) and fauxqs (SQS). Each call starts a fresh server on a
// free port, waits until it answers and stops it, with its whole process
// group, when the test ends; the server's output goes to the test log when
// the test fails.
//
// The servers are installed by scripts/install-test-tools.sh into
// $S3THUMB_TEST_TOOLS (default: .tools in the repository root). When one is
// missing the test is skipped, or fails if S3THUMB_REQUIRE_TEST_SERVERS=1.
package testserver
