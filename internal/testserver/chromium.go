package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium starts a headless Chromium (Debian's chromium, from PATH) for
// the test and returns the context of its first tab, with a deadline of
// timeout; both end with the test. Without chromium the test is skipped,
// or fails with S3THUMB_REQUIRE_TEST_SERVERS=1, as for the other servers.
//
// The flags are those this machine's closed network needs: without the
// background-networking ones Chromium keeps trying Google's hosts.
func Chromium(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(program(t, "chromium")),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	cctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	cctx, cancelTimeout := context.WithTimeout(cctx, timeout)
	t.Cleanup(cancelTimeout)
	return cctx
}
