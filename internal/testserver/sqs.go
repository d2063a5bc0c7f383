package testserver

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQS is a running SQS server.
type SQS struct {
	Endpoint string // http://127.0.0.1:PORT
	Region   string
}

// Client returns an SQS client for the server, with dummy static
// credentials (fauxqs accepts any).
func (q *SQS) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       q.Region,
		BaseEndpoint: aws.String(q.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("s3thumb-test", "s3thumb-test", ""),
	})
}

// Fauxqs starts the fauxqs SQS emulator on 127.0.0.1 through the loopback
// launcher that scripts/install-test-tools.sh installs next to it. It is
// stopped when the test ends.
func Fauxqs(t testing.TB) *SQS {
	t.Helper()
	launcher := tool(t, "node", "fauxqs-loopback.mjs")
	tool(t, "node", "node_modules", "fauxqs", "package.json")
	node := program(t, "node")
	ports := start(t, command{
		name: "fauxqs",
		args: func([]int) []string { return []string{node, launcher} },
		env:  func(ports []int) []string { return []string{"PORT=" + strconv.Itoa(ports[0])} },
		urls: func(ports []int) []string { return []string{loopbackURL(ports[0]) + "/health"} },
		okay: func(resp *http.Response) bool { return resp.StatusCode == http.StatusOK },
	})
	return &SQS{Endpoint: loopbackURL(ports[0]), Region: Region}
}
