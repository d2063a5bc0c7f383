// Command loggen writes realistic S3 server access logs of a thumbnail
// bucket into a directory, one file per log object, for trying the analyzer
// and for its benchmarks:
//
//	go run ./scripts/loggen --out /tmp/logs --days 14 --requests-per-day 50000 --seed 1
//
// The same flags and seed give the same files. The counts of what was
// generated (requests, hits, misses, malformed lines, ...) are printed as
// JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/scripts/internal/workload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loggen:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg := loggen.DefaultConfig()
	fs := flag.NewFlagSet("loggen", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the log objects into (required)")
	start := fs.String("start", cfg.Start.Format(time.DateOnly), "first day, YYYY-MM-DD")
	workload.Flags(fs, &cfg)
	fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "bucket the requests are for")
	fs.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, "log object key prefix")
	fs.StringVar(&cfg.Layout, "layout", cfg.Layout, "key layout: simple, partitioned or both")
	fs.BoolVar(&cfg.Gzip, "gzip", cfg.Gzip, "gzip each log object")
	fs.IntVar(&cfg.Fields, "fields", cfg.Fields, "fields per record, 18 to 27, or 0 for a mix of eras")
	fs.IntVar(&cfg.MissStatus, "miss-status", cfg.MissStatus, "status logged for a missing thumbnail: 404, 403 or 302")
	fs.IntVar(&cfg.ObjectsPerHour, "objects-per-hour", cfg.ObjectsPerHour, "log objects per hour")
	fs.Float64Var(&cfg.MalformedRate, "malformed-rate", cfg.MalformedRate, "malformed lines per record")
	fs.Float64Var(&cfg.DuplicateRate, "duplicate-rate", cfg.DuplicateRate, "records delivered twice, per record")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	t, err := time.Parse(time.DateOnly, *start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	cfg.Start = t
	g, err := loggen.New(cfg)
	if err != nil {
		return err
	}
	if err := g.Run(ctx, loggen.DirSink{Dir: *out}); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(g.Stats())
}
