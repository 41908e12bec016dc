# Capture: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go

.PHONY: all generate build run test lint lint-spec drift fuzz bench bench-smoke

all: build

## generate: regenerate gen/ and client/models.gen.go from openapi.yaml with oapi-codegen
generate:
	$(GO) generate ./...

## build: build the capture binary into bin/ (BIN), stamped with its version and commit
## (capture version): git describe and git rev-parse, or BUILD_VERSION and BUILD_COMMIT
BIN ?= bin/capture
BUILD_VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
BUILD_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.version=$(BUILD_VERSION) -X main.commit=$(BUILD_COMMIT)" -o $(BIN) ./cmd/capture

## run: serve on 127.0.0.1:8080 (or ADDR, as in make run ADDR=127.0.0.1:9090) with
## the embedded SQLite database capture.db
run: build
	$(BIN) serve $(if $(ADDR),--addr '$(ADDR)')

## test: run every test with the race detector. Output as go test's (ok/FAIL a
## package), then the failures again with their logs, a count of the tests
## ("DONE 1200 tests, 60 skipped in 300s") and one line saying which tests were
## skipped and why: a database or a browser not set up here, or -short
## (gotestsum runs go test -json; internal/skipsummary reads its events)
TEST_EVENTS = bin/test-events.json
GOTESTSUM = $(GO) tool gotestsum --format standard-quiet --hide-summary skipped \
	--jsonfile $(TEST_EVENTS) --post-run-command "$(GO) run ./internal/skipsummary" --raw-command --
## client/ is a module of its own (package client's dependencies are an
## integrator's): ./... at the root leaves it out, so each target runs it too
test:
	@$(GOTESTSUM) sh -c '$(GO) test -json -race -count=1 ./...; s=$$?; $(GO) -C client test -json -race -count=1 ./... || s=1; exit $$s'

## test-short: the edit-run loop, under two minutes on two cores (75 s with
## PostgreSQL and Redis set): no race detector, no test that builds a binary,
## starts replicas or a browser, and packages unchanged since the last run cached
.PHONY: test-short
test-short:
	@$(GOTESTSUM) sh -c '$(GO) test -json -short ./...; s=$$?; $(GO) -C client test -json -short ./... || s=1; exit $$s'

## lint: go vet and staticcheck
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) -C client vet ./...
	sc=$$($(GO) tool -n staticcheck) && cd client && $$sc ./...

## fuzz: run each fuzz target of the request pipeline for FUZZTIME (new finds land in server/testdata/fuzz).
## A count of inputs, about 10 s a target here, not a duration: when a duration runs out
## while a worker is mid-input, Go 1.26's fuzzing coordinator fails the target with a
## bare "context deadline exceeded" and no input (golang/go#75804, fixed in Go 1.27)
FUZZTIME ?= 12000x
## A target of another package than ./server is named package:target.
FUZZ_TARGETS = FuzzBody FuzzQuery FuzzPath FuzzHeaders FuzzSubmission ./server/store:FuzzParseSearch
fuzz:
	@for target in $(FUZZ_TARGETS); do \
	  pkg=./server; case $$target in *:*) pkg=$${target%%:*}; target=$${target#*:};; esac; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## drift: fail when a generated package (gen/, client/models.gen.go) differs
## from what openapi.yaml generates (client's go:generate line is in openapi.go:
## the client module does not carry the generator), or client/go.mod is not tidy
GENERATED = gen client/models.gen.go
drift:
	@before=$$(mktemp -d) && tar -cf "$$before/gen.tar" $(GENERATED) && $(GO) generate ./... && \
	  mkdir "$$before/x" && tar -xf "$$before/gen.tar" -C "$$before/x" && \
	  diff -r "$$before/x/gen" gen >/dev/null && diff "$$before/x/client/models.gen.go" client/models.gen.go >/dev/null || \
	  { echo "generated code was out of date with openapi.yaml: regenerated it; review and commit"; exit 1; }
	@echo "gen/ and client/models.gen.go match openapi.yaml"
	@$(GO) -C client mod tidy -diff >/dev/null || \
	  { echo "client/go.mod or client/go.sum is not tidy: run go mod tidy in client/"; exit 1; }

## generate-ts: regenerate the TypeScript client's types (clients/typescript/src/schema.ts)
## from openapi.yaml with openapi-typescript, pinned in its package-lock.json
.PHONY: generate-ts test-ts
generate-ts:
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error && npm run --silent generate

## test-ts: the TypeScript client's checks as CI runs them: its types match openapi.yaml,
## it compiles, and its tests pass against a real capture serve
test-ts:
	.ci/typescript

## lint-spec: lint openapi.yaml with Spectral, Redocly and vacuum (pinned in .ci/lint)
lint-spec:
	.ci/lint/lint

## bench: load capture and the floor (cmd/capture-baseline) side by side, taking
## turns three times a row, and print the table of medians: req/s, p50, p99, CPU a
## request, RSS, ratios and their targets
## (BENCH_DURATION, BENCH_CONCURRENCY, BENCH_LIST_ROWS, BENCH_COUNT, BENCH_ROWS)
## then, in-process: a create with and without a webhook endpoint to enqueue for,
## what recording its event costs a create (alone and 32 at once), and webhook
## deliveries per second to a fast local receiver
bench:
	$(GO) run ./cmd/capture-bench
	$(GO) test ./server ./server/sqlite -run '^$$' -bench 'CreateProspect$$|WebhookDeliveries|EventCost$$' -benchtime 2000x

## bench-smoke: half a second a row on small tables, to check that the harness runs;
## ratios are reported, never asserted, so it fails only when it cannot measure
bench-smoke:
	BENCH_DURATION=500ms BENCH_COUNT=1 BENCH_LIST_ROWS=20000 BENCH_IDLE=1s $(GO) run ./cmd/capture-bench

## disposable-domains: refresh server/disposable/domains.txt, the vendored list of
## disposable email domains, from the npm package disposable-email-domains-js
## (github.com/disposable-email-domains/disposable-email-domains)
.PHONY: disposable-domains
disposable-domains:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent disposable-email-domains-js@latest >/dev/null && tar xzf *.tgz) && \
	$(GO) run ./server/disposable/refresh < $$tmp/package/dist/dict/disposable_email_blocklist.json > $$tmp/domains.txt && \
	mv $$tmp/domains.txt server/disposable/domains.txt && rm -rf $$tmp
