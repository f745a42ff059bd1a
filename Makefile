# aigate developer tasks. `make help` lists them.

GO             ?= go
SQLC_VERSION   := v1.31.1
LINT_VERSION   := v2.15.0
# Pinned tools live outside the checkout, keyed by version, so fresh clones
# on the same machine (CI) reuse them.
TOOLS_DIR      ?= $(HOME)/.cache/aigate-tools
SQLC           := $(TOOLS_DIR)/sqlc-$(SQLC_VERSION)/sqlc
GOLANGCI_LINT  := $(TOOLS_DIR)/golangci-lint-$(LINT_VERSION)/golangci-lint

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the server (embedded PostgreSQL unless AIGATE_POSTGRES_URL is set)
	$(GO) run ./cmd/aigate server

.PHONY: build
build: ## Build bin/aigate
	$(GO) build -o bin/aigate ./cmd/aigate

# The container image (deploy/image/): podman, else buildah, else docker.
IMAGE          ?= aigate:dev

.PHONY: image
image: ## Build the container image IMAGE (default aigate:dev) with podman, buildah or docker
	deploy/image/build.sh $(IMAGE)

.PHONY: check-image
check-image: ## Check IMAGE without running it: non-root user, entrypoint, file list, static binary
	deploy/image/check.sh $(IMAGE)

.PHONY: test
test: ## Run the whole test suite (starts its own PostgreSQL), then the Helm chart's tests
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory test-helm

# The chart's tests are a module of their own (deploy/helm/go.mod), so the
# server's module never carries the Helm and Kubernetes libraries; they also
# run helm lint --strict through the pinned Helm library, so there is no helm
# binary to install. No -race: they start no goroutines of their own, and the
# race build of the Kubernetes libraries costs more than the tests.
.PHONY: test-helm
test-helm: ## Render and lint the Helm chart (deploy/helm/aigate)
	cd deploy/helm && $(GO) test -count=1 -timeout 5m ./...

# Fuzz targets and how much CI runs each. A count, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report "context deadline exceeded"
# as a failure when the time runs out mid-input (golang/go#75804, fixed in
# Go 1.27). 100000 inputs take 4-12 s per target here.
FUZZTIME ?= 100000x

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 100000x: inputs, or a duration such as 1m)
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/providerenv
	$(GO) test -run '^$$' -fuzz '^FuzzDecrypt$$' -fuzztime $(FUZZTIME) ./internal/encryption
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./internal/sse
	$(GO) test -run '^$$' -fuzz '^FuzzStreamParser$$' -fuzztime $(FUZZTIME) ./internal/llmwire
	$(GO) test -run '^$$' -fuzz '^FuzzAskStreamUsage$$' -fuzztime $(FUZZTIME) ./internal/llmwire
	$(GO) test -run '^$$' -fuzz '^FuzzStreamDecoder$$' -fuzztime $(FUZZTIME) ./internal/bedrock

.PHONY: bench
bench: ## Run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The end-to-end benchmark builds both binaries first, so the process it
# measures is the real server; docs/performance.md describes the method.
BENCH_DIR      ?= bin/bench
BENCH_ARGS     ?=

.PHONY: bench-e2e
bench-e2e: ## Run the end-to-end benchmark: aigate vs a bare reverse proxy (about 3 minutes)
	$(GO) build -o $(BENCH_DIR)/aigate ./cmd/aigate
	$(GO) build -o $(BENCH_DIR)/aigate-bench ./cmd/aigate-bench
	$(BENCH_DIR)/aigate-bench -aigate $(BENCH_DIR)/aigate $(BENCH_ARGS)

.PHONY: generate
generate: $(SQLC) ## Regenerate sqlc code from internal/database/queries
	$(SQLC) generate

.PHONY: check-generated
check-generated: $(SQLC) ## Fail if sqlc output is not up to date
	$(SQLC) diff

.PHONY: fmt
fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint (the server's module and the chart tests' module)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	cd deploy/helm && $(GO) vet ./... && $(GOLANGCI_LINT) run --config ../../.golangci.yml ./...

.PHONY: tools
tools: $(SQLC) $(GOLANGCI_LINT) ## Install the pinned sqlc and golangci-lint

$(SQLC):
	GOBIN=$(dir $@) CGO_ENABLED=1 $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)
