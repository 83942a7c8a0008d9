# Strata: make demo (the main job), make test (what CI runs).
# Needs Go 1.26 and Terraform >= 1.11 (or OpenTofu) on PATH.
GO        ?= go
BIN       := bin
FUZZTIME  ?= 20s
DEMO_STACK ?= examples/stacks/contract
# One version for the CLI and the provider, and the commit they are built from.
VERSION   := $(shell cat VERSION)
COMMIT    := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT)
GOOS      ?= $(shell $(GO) env GOOS)
GOARCH    ?= $(shell $(GO) env GOARCH)
# install: where Terraform's implied local mirror looks, and the CLI's home.
PLUGIN_DIR ?= $(HOME)/.terraform.d/plugins
BINDIR     ?= $(HOME)/.local/bin

.PHONY: all build install release test unit fuzz bench bench-deps lint deps lab-deps kube-deps demo aws-demo hosted-demo lab-demo tour docs clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/strata ./cmd/strata
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/terraform-provider-strata ./cmd/terraform-provider-strata

# install puts the provider where terraform init finds it without a
# registry (the implied local mirror: PLUGIN_DIR/registry.terraform.io/
# stratastack/strata/VERSION/OS_ARCH/) and strata in BINDIR.
install:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(PLUGIN_DIR)/registry.terraform.io/stratastack/strata/$(VERSION)/$(GOOS)_$(GOARCH)/terraform-provider-strata_v$(VERSION) ./cmd/terraform-provider-strata
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BINDIR)/strata ./cmd/strata
	@echo "installed terraform-provider-strata $(VERSION) under $(PLUGIN_DIR) and strata in $(BINDIR)"

# release builds every artifact of VERSION into dist/ (zips for linux,
# darwin, windows x amd64, arm64; the manifest; SHA256SUMS, signed when
# GPG_FINGERPRINT names a key) and adds the provider to the network
# mirror/ (kept between releases: it serves every version built).
release:
	$(GO) run ./cmd/release -out dist -mirror mirror

# deps installs what the tests call out to: Debian's chromium (the boot
# server's status page is tested in it, driven by chromedp), cloud-init, whose
# `cloud-init schema` validates every rendered cloud-config, openssl (it
# judges the Kubernetes CA and admin certificate Strata makes), and the TFTP
# clients (tftp-hpa, atftp, curl) and the BMC simulator (openipmi, ipmitool)
# the boot server is tested with, gnupg (it signs and verifies the
# release's SHA256SUMS), PostgreSQL (the shared state backend's tests run
# their own server with initdb and pg_ctl), Graphviz (strata graph -o
# renders SVG and PNG with its dot); and checks for
# terraform, which the provider tests drive, and moto_server, the EC2
# endpoint of the AWS tests (neither is a Debian package).
deps:
	@command -v terraform >/dev/null 2>&1 || { \
	  echo "terraform (>= 1.11) is needed on PATH for the provider tests and make demo"; exit 1; }
	@bash acceptance/install-missing.sh cloud-init:cloud-init openssl:openssl tftp:tftp-hpa atftp:atftp curl:curl \
	  ipmi_sim:openipmi ipmitool:ipmitool gpg:gnupg /usr/lib/postgresql/15/bin/initdb:postgresql \
	  dot:graphviz
	@bash acceptance/install-missing.sh chromium:chromium
	@command -v moto_server >/dev/null 2>&1 || { \
	  echo "moto_server (moto 5.2.x, the EC2 endpoint the AWS tests run against) is needed on PATH: pip install 'moto[server]==5.2.1' where PyPI is reachable (this machine image ships it)"; exit 1; }

# lab-deps installs what `strata lab` runs: QEMU with Debian's iPXE ROMs,
# OpenIPMI's BMC simulator, a static busybox for the initramfs, iproute2;
# the kernel is fetched by strata lab up itself (apt-get download).
lab-deps:
	@bash acceptance/install-missing.sh qemu-system-x86_64:qemu-system-x86 /usr/lib/ipxe/qemu/efi-virtio.rom:ipxe-qemu \
	  /usr/lib/ipxe/undionly.kpxe:ipxe ipmi_sim:openipmi ipmitool:ipmitool ip:iproute2 /bin/busybox:busybox-static

# kube-deps builds what the Kubernetes tests start (stacks/layers/kubernetes/kubetest):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubeadm
# v1.37.2, etcd and kwok, from source through the Go module proxy
# (acceptance/kube/tools), cached by version outside the clone: about 9
# minutes the first time, seconds after that.
kube-deps:
	bash acceptance/kube/build.sh

lint:
	$(GO) vet ./...
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi

# The acceptance package runs long on a new machine (it builds the release
# for six platforms from cold caches): past go test's 10-minute default.
unit:
	$(GO) test -count=1 -timeout 45m ./...

# fuzz runs the parser/validator fuzz target for a bounded time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./stacks/

# test brings up the OpenStack test cloud (acceptance/openstack/up.sh:
# Debian's Keystone, Glance, Placement, Nova with the fake driver, Neutron,
# on 127.0.0.1) for the OpenStack tests and takes it down afterwards, also
# when a test fails; KEEP_OPENSTACK=1 leaves it up for the next run. The
# Kubernetes tests start their own control planes from kube-deps' binaries.
test: deps lab-deps kube-deps lint
	bash acceptance/openstack/up.sh
	@status=0; STRATA_REQUIRE_OPENSTACK=1 STRATA_REQUIRE_KUBE=1 STRATA_REQUIRE_AWS=1 STRATA_REQUIRE_POSTGRES=1 STRATA_REQUIRE_CHROMIUM=1 STRATA_RELEASE_PLATFORMS=all $(MAKE) --no-print-directory unit fuzz || status=$$?; \
	  [ -n "$(KEEP_OPENSTACK)" ] || bash acceptance/openstack/down.sh; exit $$status

# bench-deps installs what the benchmarks compare against and load with:
# dnsmasq (the binary only, dnsmasq-base: no service), nginx-light, wrk,
# GNU time and atftp.
bench-deps: lab-deps
	@bash acceptance/install-missing.sh dnsmasq:dnsmasq-base nginx:nginx-light wrk:wrk /usr/bin/time:time \
	  atftp:atftp flock:util-linux

bench: bench-deps build kube-deps
	bash acceptance/bench/plan10k.sh
	STRATA_REQUIRE_KUBE=1 $(GO) test -run '^$$' -bench BenchmarkHostRollout200 -benchtime 3x ./stacks/layers/kubernetes/
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./stacks/plan/
	bash acceptance/bench/vsphere500.sh
	STRATA_BENCH_JANITOR_MACHINES=5000 $(GO) test -run '^$$' -bench BenchmarkJanitor -benchtime 3x -timeout 30m ./provisioners/vsphere/
	bash acceptance/bench/aws500.sh
	bash acceptance/bench/tftp.sh
	bash acceptance/bench/http.sh
	bash acceptance/bench/pxeboot.sh
	bash acceptance/openstack/up.sh
	@status=0; bash acceptance/bench/openstack50.sh || status=$$?; \
	  [ -n "$(KEEP_OPENSTACK)" ] || bash acceptance/openstack/down.sh; exit $$status

# demo is the main job: a vSphere simulator, the provider installed in
# Terraform's local mirror (make install) and found by terraform init,
# terraform apply of examples/terraform/vsphere, the machines, destroy.
demo: build install
	bash examples/terraform/simdemo.sh vsphere

# aws-demo applies examples/terraform/aws (Mesos on EC2) against moto's EC2
# server on loopback (strata sim aws), then destroys it.
aws-demo: build install
	bash examples/terraform/simdemo.sh aws

# hosted-demo is layers on layers on the embedded defaults: Mesos on vSphere
# simulator machines, Kubernetes as Marathon apps on it (the Marathon v2 test
# server), OpenStack's control plane as workloads on that Kubernetes (a real
# API server with kwok nodes from kube-deps); strata up, status, down.
hosted-demo: build kube-deps
	bash examples/hosted/demo.sh

# lab-demo is the bare-metal path (root): strata lab up, terraform apply of
# examples/terraform/baremetal (3 machines PXE-boot under IPMI control and
# phone home), terraform destroy, lab down.
lab-demo: lab-deps build install
	bash examples/terraform/baremetal/demo.sh

# tour validates and plans every example stack and renders one machine's
# bootstrap and one hosted layer's objects.
tour: build
	@set -e; for s in examples/stacks/*.strata.hcl examples/stacks/*/; do \
	  echo "== strata validate $$s"; $(BIN)/strata validate $$s; done
	@echo; echo "== strata plan $(DEMO_STACK)"; $(BIN)/strata plan $(DEMO_STACK)
	@echo; echo "== strata render $(DEMO_STACK) -node infra/0"; $(BIN)/strata render $(DEMO_STACK) -node infra/0 -state-dir $(BIN)/state
	@echo; echo "== strata render $(DEMO_STACK) -layer kubernetes.apps/worker"; $(BIN)/strata render $(DEMO_STACK) -layer kubernetes.apps/worker -state-dir $(BIN)/state

# docs regenerates the provider docs (tfplugindocs), docs/kinds.md and the
# README's strata graph picture (docs/images/graph.png); the tests fail
# when the committed ones are stale (the picture: when it is missing).
docs:
	STRATA_UPDATE_GOLDEN=1 $(GO) test -count=1 -run '^TestDocsCurrent$$' ./provider/
	STRATA_UPDATE_GOLDEN=1 $(GO) test -count=1 -run '^TestKindsDoc$$' ./internal/catalog/
	STRATA_UPDATE_GOLDEN=1 $(GO) test -count=1 -run '^TestPageInBrowser$$' ./provisioners/baremetal/web/
	STRATA_UPDATE_GOLDEN=1 $(GO) test -count=1 -run '^TestGraphScreenshot$$' ./internal/cli/

clean:
	rm -rf $(BIN)
