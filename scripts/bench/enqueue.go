package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// enqueueResult is the enqueue rate to the SQS emulator.
type enqueueResult struct {
	Skipped     string    `json:"skipped,omitempty"` // why it did not run
	Emulator    string    `json:"emulator,omitempty"`
	Messages    int       `json:"messages_per_round"`
	Rate        float64   `json:"messages_per_s"` // median of the measured rounds
	Rates       []float64 `json:"round_messages_per_s"`
	ClientCPUus float64   `json:"s3thumb_cpu_us_per_message"`
	ServerCPUus float64   `json:"emulator_cpu_us_per_message"`
}

// enqueueConfig says how to measure `s3thumb enqueue` into SQS.
type enqueueConfig struct {
	binary   string
	tools    string // where scripts/install-test-tools.sh installed fauxqs
	messages int
	warmup   int // unmeasured rounds
	measured int
	suffix   string // the thumbnail variant of the keys queued
}

// errNoTools says the emulator is not installed: the benchmark skips the
// row rather than failing.
var errNoTools = errors.New("run scripts/install-test-tools.sh")

// fauxqsTools finds the fauxqs launcher under tools and node in PATH, and
// reads fauxqs's version.
func fauxqsTools(tools string) (node, launcher, version string, err error) {
	if tools, err = filepath.Abs(tools); err != nil {
		return "", "", "", err
	}
	launcher = filepath.Join(tools, "node", "fauxqs-loopback.mjs")
	pkg := filepath.Join(tools, "node", "node_modules", "fauxqs", "package.json")
	for _, f := range []string{launcher, pkg} {
		if _, err := os.Stat(f); err != nil {
			return "", "", "", fmt.Errorf("fauxqs is not installed (%s missing): %w", f, errNoTools)
		}
	}
	if node, err = exec.LookPath("node"); err != nil {
		return "", "", "", fmt.Errorf("node is not in PATH: %w", errNoTools)
	}
	data, err := os.ReadFile(pkg)
	if err != nil {
		return "", "", "", err
	}
	var p struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Version == "" {
		return "", "", "", fmt.Errorf("%s: no version", pkg)
	}
	return node, launcher, "fauxqs " + p.Version, nil
}

// emulator is a running fauxqs.
type emulator struct {
	cmd      *exec.Cmd
	endpoint string
	logs     *tail
	done     chan struct{}
}

// startFauxqs runs the loopback launcher on a free port of 127.0.0.1 and
// waits until /health answers; it retries on a new port when the process
// exits first (another process may have taken the port).
func startFauxqs(ctx context.Context, node, launcher string) (*emulator, error) {
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		e := &emulator{endpoint: "http://127.0.0.1:" + strconv.Itoa(port), logs: &tail{max: 40}, done: make(chan struct{})}
		e.cmd = exec.Command(node, launcher)
		e.cmd.Dir = filepath.Dir(launcher)
		e.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		out, err := e.cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		if err := e.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start fauxqs: %w", err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				e.logs.add(sc.Text())
			}
			_ = e.cmd.Wait()
			close(e.done)
		}()
		if lastErr = e.waitHealthy(ctx, 30*time.Second); lastErr == nil {
			return e, nil
		}
		e.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, lastErr
}

func (e *emulator) waitHealthy(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.endpoint+"/health", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-e.done:
			return fmt.Errorf("fauxqs exited before answering:\n%s", e.logs)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fauxqs did not answer within %s:\n%s", limit, e.logs)
		}
	}
}

// stop ends fauxqs with SIGTERM, then SIGKILL after 5 s.
func (e *emulator) stop() {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// benchRegion is the region the emulator's queues are in.
const benchRegion = "us-east-1"

// client is an SQS client for the emulator, with dummy credentials.
func (e *emulator) client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       benchRegion,
		BaseEndpoint: aws.String(e.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("s3thumb-bench", "s3thumb-bench", ""),
	})
}

// benchKeys are n distinct thumbnail keys of variant suffix, one a line.
func benchKeys(n int, suffix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "bench/img%07d_%s\n", i, suffix)
	}
	return b.String()
}

// benchEnqueue measures `s3thumb enqueue --from-file` of cfg.messages
// thumbnail keys into a fresh fauxqs queue per round (batches of 10 at the
// command's default send concurrency), from starting the command to its
// exit, and checks each queue then holds every message. A missing emulator
// gives errNoTools.
func benchEnqueue(ctx context.Context, cfg enqueueConfig, dir string) (enqueueResult, error) {
	res := enqueueResult{Messages: cfg.messages}
	node, launcher, version, err := fauxqsTools(cfg.tools)
	if err != nil {
		return res, err
	}
	res.Emulator = version
	keys := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(keys, []byte(benchKeys(cfg.messages, cfg.suffix)), 0o644); err != nil {
		return res, err
	}
	e, err := startFauxqs(ctx, node, launcher)
	if err != nil {
		return res, err
	}
	defer e.stop()
	client := e.client()

	var clientCPU, serverCPU time.Duration
	for r := range cfg.warmup + cfg.measured {
		created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("s3thumb-bench-%d", r))})
		if err != nil {
			return res, fmt.Errorf("create queue: %w", err)
		}
		url := aws.ToString(created.QueueUrl)
		cpu0, err := procCPU(e.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		wall, cpu, err := enqueueSQS(ctx, cfg.binary, e.endpoint, url, keys)
		if err != nil {
			return res, fmt.Errorf("%w\nfauxqs:\n%s", err, e.logs)
		}
		cpu1, err := procCPU(e.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			return res, fmt.Errorf("queue depth: %w", err)
		}
		if n := attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]; n != strconv.Itoa(cfg.messages) {
			return res, fmt.Errorf("the queue holds %s messages after queueing %d", n, cfg.messages)
		}
		if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			return res, fmt.Errorf("delete queue: %w", err)
		}
		if r < cfg.warmup {
			continue
		}
		res.Rates = append(res.Rates, float64(cfg.messages)/wall.Seconds())
		clientCPU += cpu
		serverCPU += cpu1 - cpu0
	}
	res.Rate = median(res.Rates)
	if n := float64(cfg.measured * cfg.messages); n > 0 {
		res.ClientCPUus = float64(clientCPU/time.Microsecond) / n
		res.ServerCPUus = float64(serverCPU/time.Microsecond) / n
	}
	return res, nil
}

// enqueueSQS runs `s3thumb enqueue --from-file keys` into the SQS queue url
// at endpoint, with dummy credentials and no other AWS settings, and
// returns its wall and CPU time.
func enqueueSQS(ctx context.Context, binary, endpoint, url, keys string) (time.Duration, time.Duration, error) {
	cmd := exec.CommandContext(ctx, binary, "enqueue", "--queue", url, "--sqs-endpoint", endpoint,
		"--region", benchRegion, "--from-file", keys, "--progress-interval", "1h")
	cmd.Env = append(withoutAWS(os.Environ()), "S3THUMB_LOG_FORMAT=json",
		"AWS_ACCESS_KEY_ID=s3thumb-bench", "AWS_SECRET_ACCESS_KEY=s3thumb-bench", "AWS_EC2_METADATA_DISABLED=true")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("s3thumb enqueue: %w:\n%s", err, out)
	}
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return wall, cpu, nil
}

// withoutAWS drops the AWS_ variables from env, so the benchmark's
// enqueue talks to the emulator only, with its dummy credentials.
func withoutAWS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
