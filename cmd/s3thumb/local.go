package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/internal/store"
)

// localDefaults is what a file:// store implies for the flags the command
// line leaves unset: the one place that says it. A directory store is the
// whole service on one machine, so serve runs the front (as the S3 website
// would), writes its access log beside the objects, and runs one worker on
// a queue beside them too; the directory has no lifecycle rule.
type localDefaults struct {
	local      bool   // the store is a directory
	front      bool   // serve --front
	accessLog  string // serve --access-log
	queue      string // --queue
	workers    int    // serve --workers
	expireDays int    // analyze --expire-days (only when unset)
	minClients int    // analyze --min-clients (only when unset): one browser on 127.0.0.1 is the demo's only client
}

// defaultsFor reads --store and says what it implies.
func defaultsFor(c *cli.Context) (localDefaults, error) {
	loc, err := store.ParseURL(c.String("store"))
	if err != nil {
		return localDefaults{}, usagef("--store: %w", err)
	}
	if loc.Scheme != "file" {
		return localDefaults{}, nil
	}
	return localDefaults{
		local:      true,
		front:      true,
		accessLog:  filepath.Join(loc.Dir, ".logs"),
		queue:      "file://" + filepath.Join(loc.Dir, ".queue"),
		workers:    1,
		minClients: 1,
	}, nil
}
