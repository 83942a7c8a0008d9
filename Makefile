# Strata: make demo (the main job), make test (what CI runs).
GO        ?= go
BIN       := bin
FUZZTIME  ?= 20s
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_STACK ?= examples/stacks/contract

.PHONY: all build test unit fuzz bench lint deps demo clean

all: build

build:
	$(GO) build -o $(BIN)/strata ./cmd/strata

# deps installs what the tests call out to: Debian's cloud-init, whose
# `cloud-init schema` validates every rendered cloud-config.
deps:
	@command -v cloud-init >/dev/null 2>&1 || { \
	  echo "installing cloud-init (the cloud-config validator)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends cloud-init >/dev/null; }

lint:
	$(GO) vet ./...
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi

unit:
	$(GO) test -count=1 ./...

# fuzz runs the parser/validator fuzz target for a bounded time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./stacks/

test: deps lint unit fuzz

bench:
	bash acceptance/bench/plan10k.sh
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./stacks/plan/

# demo validates and plans every example stack and renders one machine's
# bootstrap and one hosted layer's objects.
demo: build
	@set -e; for s in examples/stacks/*.strata.hcl examples/stacks/*/; do \
	  echo "== strata validate $$s"; $(BIN)/strata validate $$s; done
	@echo; echo "== strata plan $(DEMO_STACK)"; $(BIN)/strata plan $(DEMO_STACK)
	@echo; echo "== strata render $(DEMO_STACK) -node infra/0"; $(BIN)/strata render $(DEMO_STACK) -node infra/0 -state-dir $(BIN)/state
	@echo; echo "== strata render $(DEMO_STACK) -layer kubernetes.apps/worker"; $(BIN)/strata render $(DEMO_STACK) -layer kubernetes.apps/worker -state-dir $(BIN)/state

clean:
	rm -rf $(BIN)
