// Command s3thumb makes image thumbnails on demand and ahead of demand for
// images stored in S3 or a local directory. Every role (responder, worker,
// analyzer, operator tools) is a subcommand of this one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr).RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3thumb:", err)
		os.Exit(exitCode(err))
	}
}
