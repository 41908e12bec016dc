# Capture: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go

.PHONY: all generate build run test lint drift fuzz bench bench-smoke

all: build

## generate: regenerate gen/ from openapi.yaml with oapi-codegen
generate:
	$(GO) generate ./...

## build: build the capture binary into bin/
build:
	$(GO) build -o bin/capture ./cmd/capture

## run: serve on 127.0.0.1:8080 with the embedded SQLite database capture.db
run: build
	./bin/capture serve

## test: run every test with the race detector
test:
	$(GO) test -race -count=1 ./...

## lint: go vet and staticcheck
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## fuzz: run each fuzz target of the request pipeline for FUZZTIME (new finds land in server/testdata/fuzz)
FUZZTIME ?= 10s
FUZZ_TARGETS = FuzzBody FuzzQuery FuzzPath FuzzHeaders
fuzz:
	@for target in $(FUZZ_TARGETS); do \
	  $(GO) test ./server -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## drift: fail when gen/ differs from what openapi.yaml generates
drift:
	@before=$$(mktemp -d) && cp -R gen "$$before/" && $(GO) generate ./... && \
	  diff -r "$$before/gen" gen >/dev/null || { echo "gen/ was out of date with openapi.yaml: regenerated it; review and commit"; exit 1; }
	@echo "gen/ matches openapi.yaml"

## bench: load capture and the bare baseline side by side and print the table
## (BENCH_DURATION, BENCH_CONCURRENCY, BENCH_LIST_ROWS, BENCH_COUNT)
bench:
	$(GO) run ./cmd/capture-bench

## bench-smoke: one second a row on a small table, to check that the harness runs
bench-smoke:
	BENCH_DURATION=1s BENCH_LIST_ROWS=100000 $(GO) run ./cmd/capture-bench
