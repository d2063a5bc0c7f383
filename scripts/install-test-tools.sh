#!/usr/bin/env bash
# Installs the local S3 and SQS servers that s3thumb's integration tests run
# on 127.0.0.1 (see internal/testserver):
#
#   versitygw v1.8.0  -> $S3THUMB_TEST_TOOLS/bin/versitygw   (go install)
#   s3rver 3.7.1,
#   fauxqs 1.9.2      -> $S3THUMB_TEST_TOOLS/node             (npm ci, pinned by
#                        scripts/testtools/package-lock.json)
#
# S3THUMB_TEST_TOOLS defaults to .tools in the repository root (git-ignored).
# The script is idempotent: tools already installed at the pinned versions
# are left alone, so running it again is cheap.
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${S3THUMB_TEST_TOOLS:-$root/.tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"
src="$root/scripts/testtools"

say() { printf 'install-test-tools: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found in PATH; $2"
}

install_versitygw() {
	need go "install Go (https://go.dev/dl/) to build versitygw"
	local bin="$tools/bin/versitygw"
	if [[ -x "$bin" ]] && go version -m "$bin" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+$VERSITYGW_MODULE[[:space:]]+$VERSITYGW_VERSION([[:space:]]|$)"; then
		say "versitygw $VERSITYGW_VERSION already in $bin"
		return
	fi
	say "building versitygw $VERSITYGW_VERSION into $tools/bin (a few minutes the first time)"
	mkdir -p "$tools/bin"
	if ! GOBIN="$tools/bin" CGO_ENABLED=0 go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"; then
		die "go install $VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION failed (is the Go module proxy reachable? see GOPROXY)"
	fi
	say "versitygw installed: $bin"
}

install_node_tools() {
	need node "install Node.js 20 or later to run s3rver and fauxqs"
	need npm "install npm (it comes with Node.js) to install s3rver and fauxqs"
	local major
	major="$(node -p 'process.versions.node.split(".")[0]')"
	((major >= 20)) || die "Node.js 20 or later is needed, found $(node --version)"

	local dest="$tools/node"
	mkdir -p "$dest"
	# The launcher is copied every time: it is tiny and must sit next to
	# node_modules so that its `import "fauxqs"` resolves.
	cp "$src/fauxqs-loopback.mjs" "$dest/fauxqs-loopback.mjs"

	if [[ -d "$dest/node_modules/s3rver" && -d "$dest/node_modules/fauxqs" ]] &&
		cmp -s "$src/package.json" "$dest/package.json" &&
		cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
		say "s3rver and fauxqs already installed in $dest"
		return
	fi
	say "installing s3rver and fauxqs with npm ci into $dest"
	cp "$src/package.json" "$src/package-lock.json" "$dest/"
	if ! (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error); then
		# Leave no half-installed tree that a later run would mistake for done.
		rm -f "$dest/package-lock.json"
		die "npm ci failed in $dest (is the npm registry reachable?)"
	fi
	say "s3rver and fauxqs installed in $dest"
}

# --- chromium (headless browser for the analyzer's HTML report test) --------
# Debian's chromium package, from apt: installed only when missing and only
# when this script runs as root; otherwise it says what to do and goes on
# (the report test then skips, or fails under S3THUMB_REQUIRE_TEST_SERVERS=1).
install_chromium() {
	if command -v chromium >/dev/null 2>&1; then
		say "chromium already installed: $(command -v chromium)"
		return
	fi
	if [[ "$(id -u)" != 0 ]]; then
		say "chromium not installed; as root run: apt-get install -y chromium (the analyzer's report test needs it)"
		return
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "chromium not installed and apt-get not found; install Debian's chromium package (or put a chromium in PATH)"
		return
	fi
	say "installing chromium with apt-get"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
		say "apt-get install chromium failed; trying after apt-get update"
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium ||
			die "apt-get install chromium failed"
	fi
	say "chromium installed: $(command -v chromium)"
}
# --- end chromium -----------------------------------------------------------

install_versitygw
install_node_tools
install_chromium
say "done; tools are in $tools"
