# perfex-worker: `make help` lists the targets.

GO          ?= go
GOBIN       ?= $(CURDIR)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Start dev mode (embedded JetStream + Perfex simulator) and publish examples/commands.jsonl.
	./bin/perfex-worker dev --publish examples/commands.jsonl

.PHONY: build
build: ## Build bin/perfex-worker.
	$(GO) build -o bin/perfex-worker ./worker

.PHONY: test
test: lint ## Run every test with the race detector (plus vet, gofmt and staticcheck).
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOBIN=$(GOBIN) $(GO) install $(STATICCHECK)
	$(GOBIN)/staticcheck $(PKGS)

.PHONY: check-deployments
check-deployments: ## Check deployments/: files parse, nats definitions and metric names match, promtool check rules.
	$(GO) test -count=1 ./deployments/
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus (Debian) provides it"; exit 1; }
	promtool check rules deployments/prometheus/alerts.yaml

.PHONY: docker
docker: ## Build the container image perfex-worker:dev from deployments/Dockerfile.
	docker build -f deployments/Dockerfile -t perfex-worker:dev .

# Flags for the chaos suite (empty: full size). CI's reduced size is
# CHAOS_ARGS='-commands=1500 -contacts=150 -bursts=10 -outage=5s'.
CHAOS_ARGS  ?=

.PHONY: chaos
chaos: ## Chaos suite: 10k commands, many per contact in flight, under faults, an outage, worker kills and a NATS restart (CHAOS_ARGS to resize).
	$(GO) test -tags chaos -count=1 -timeout 60m -v -run TestChaos ./chaos/ -args $(CHAOS_ARGS)

.PHONY: test-docker
test-docker: ## The end-to-end scenarios against a NATS container (needs Docker).
	$(GO) test -race -count=1 -tags docker ./e2e/...

.PHONY: fuzz
fuzz: ## Run each fuzz target for 30s.
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=30s ./command/
	$(GO) test -run='^$$' -fuzz=FuzzValidateEmail -fuzztime=30s ./command/

BENCH_N     ?= 20000

.PHONY: bench
bench: ## Go benchmarks with allocations, then the end-to-end load run (BENCH_N commands; see BENCHMARKS.md).
	$(GO) test -run='^$$' -bench=. -benchmem ./command/ ./internal/crm/ ./internal/dlq/
	$(GO) run ./bench/load -n $(BENCH_N)
