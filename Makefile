# s3thumb: `make run` starts the service on a local directory, `make test`
# runs every test against real test servers. Both install what they need.

GO        ?= go
BIN       := bin/s3thumb
DATA      ?= ./data
LISTEN    ?= 127.0.0.1:8080
TOOLS     ?= $(CURDIR)/.tools
FUZZTIME  ?= 30s
BENCHFLAGS ?=
ANALYZER_BENCH_LINES ?= 10000000
# Tracked thumbnails of the synthesised state (20 M: about 13 GB of memory).
STATE_BENCH_THUMBS ?= 1000000
export S3THUMB_TEST_TOOLS := $(TOOLS)
# glibc arenas fragment under libvips' many threads; two keep RSS flat.
export MALLOC_ARENA_MAX ?= 2

.PHONY: all deps build run test test-tools bench bench-analyzer bench-replay fuzz lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/s3thumb

run: build
	@mkdir -p $(DATA)
	@[ -e $(DATA)/kleiber.jpg ] || cp scripts/sample/kleiber.jpg $(DATA)/kleiber.jpg
	@echo
	@echo "s3thumb serves $(DATA) on http://$(LISTEN). Try:"
	@echo "  http://$(LISTEN)/kleiber.jpg                 the original"
	@echo "  http://$(LISTEN)/kleiber_200x200.jpg         made on the first request (302 to /resize), then served from $(DATA)"
	@echo "  http://$(LISTEN)/kleiber_400x_fit@2x.webp    800 pixels wide, WebP"
	@echo "  http://$(LISTEN)/metrics                     Prometheus metrics"
	@echo "Queue a backfill (the responder's worker makes them):"
	@echo "  $(BIN) enqueue --store file://$(DATA) --sizes 200x200,400x_fit --formats jpg,webp"
	@echo "Then read the access log the front writes:"
	@echo "  $(BIN) analyze --store file://$(DATA) --logs file://$(DATA)/.logs --report report.html"
	@echo
	$(BIN) serve --store file://$(DATA) --listen $(LISTEN)

test-tools:
	@scripts/install-test-tools.sh

test: deps test-tools
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	S3THUMB_REQUIRE_TEST_SERVERS=1 $(GO) test -race -count=1 ./...

# The responder's miss and hit paths against vipsthumbnail on real
# photographs (fetched once into .bench/ from Debian packages), the
# worker's throughput and the enqueue rate, after the analyzer's benchmarks.
bench: build bench-analyzer bench-replay
	$(GO) run ./scripts/bench --binary $(BIN) --json .bench/result.json $(BENCHFLAGS)

# The analyzer as cron runs it, on generated S3 access logs written as
# files (kept in .bench/analyzer; 3.5 GB for 10 million lines), whole
# process on one core: the first run (target: 1,000,000 lines/s), a run
# with no new logs (0.2 s), an hourly run (0.5 s), and the state's bytes per
# tracked thumbnail (64); then the inner loop alone, parse + aggregate in
# memory; then a synthesised state of STATE_BENCH_THUMBS thumbnails: heap
# and snapshot bytes per thumbnail, save and load time.
bench-analyzer: build
	$(GO) run ./scripts/analyzerbench --binary $(BIN) --lines $(ANALYZER_BENCH_LINES)
	S3THUMB_BENCH_LINES=$(ANALYZER_BENCH_LINES) GOMAXPROCS=1 $(GO) test -run '^$$' -bench '^BenchmarkAnalyze$$' -benchtime 1x ./analytics/
	S3THUMB_STATE_THUMBS=$(STATE_BENCH_THUMBS) $(GO) test -run '^$$' -bench '^BenchmarkStateScale$$' -benchtime 1x -timeout 30m ./analytics/state/

# Whether pre-generation pays (targets, hourly runs, days 2-14: >= 70% of
# first-request misses on the sizes pages show avoided, <= 25% of
# pre-generated thumbnails unread within 7 days, 0 impossible jobs), on two
# workload models, both with crawlers (5% of requests) and requests for
# originals that do not exist (1% of thumbnail requests):
#   1. sizes follow the original's pages (a few dominant sizes, and each
#      original's own tail sizes), as deployed on AWS (hourly, upload events);
#   2. sizes with global shares independent of the original, plus 9.5% of
#      thumbnail requests for sizes drawn at random;
# then model 1 with daily runs and the logs alone, and hourly on a site whose
# pages show sizes in each original's format.
REPLAY_WORLD = --bot-share 0.05 --missing-share 0.01
bench-replay:
	$(GO) run ./scripts/replay $(REPLAY_WORLD)
	$(GO) run ./scripts/replay $(REPLAY_WORLD) --tail-share 0 --stray-share 0.095
	$(GO) run ./scripts/replay $(REPLAY_WORLD) --every 24h --upload-events=false
	$(GO) run ./scripts/replay $(REPLAY_WORLD) --own-format

fuzz: deps
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

lint:
	$(GO) vet ./...
	gofmt -l $$(git ls-files '*.go')

clean:
	rm -rf bin
