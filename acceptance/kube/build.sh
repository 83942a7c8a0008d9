#!/usr/bin/env bash
# acceptance/kube/build.sh — builds the Kubernetes control plane the tests
# run against (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kubeadm, etcd, kwok) from source through the Go module proxy,
# at the versions acceptance/kube/tools/go.mod pins.
#
# Into: ${STRATA_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/kube-v1.37.2}
# (outside the clone, so clones and `git clean` share one build), with
# kwok-stages.yaml: the node and pod lifecycle stages kwok v0.8.0 ships (a
# bare kwok has none; kwokctl writes these same ones), taken from the module.
#
# Idempotent: a stamp of the inputs (go.mod, go.sum, the sources here, this
# script, the Go version) sits beside the binaries; when it matches, a run
# returns at once. Cold (empty Go build cache): ~10 min on 2 cores, ~4.6 GB
# of build cache and 0.5 GB of binaries; with the build cache warm, ~15 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$HERE/tools
KUBE_VERSION=v1.37.2
BIN=${STRATA_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/kube-$KUBE_VERSION}
GO=${GO:-go}
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubeadm etcd kwok)
STAGES=(node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)
PKGS=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubeadm
      ./etcd sigs.k8s.io/kwok/cmd/kwok)

start=$(date +%s)
mkdir -p "$BIN"

# Two builds at once (two make runs) would race on the binaries: the
# second waits for the first and then finds the stamp current.
exec 9>"$BIN/.lock"
flock 9

stamp=$( { "$GO" version; cat "$HERE/build.sh"; cd "$TOOLS"; cat go.mod go.sum; find . -name '*.go' | LC_ALL=C sort | xargs cat; } \
  | sha256sum | cut -d' ' -f1)
current() {
  [ "$(cat "$BIN/.stamp" 2>/dev/null)" = "$stamp" ] || return 1
  local b; for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  [ -s "$BIN/kwok-stages.yaml" ]
}
if current; then
  echo "kube binaries $KUBE_VERSION are up to date in $BIN ($(( $(date +%s) - start ))s)"
  exit 0
fi

# The binaries report these versions (kubectl version, /version, the
# kubelet-less nodes kwok makes); go install from a module has no git
# metadata to derive them from.
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitTreeState=clean"
done

echo "building ${BINARIES[*]} ($KUBE_VERSION) into $BIN (~10 min on 2 cores with a cold Go build cache)"
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# CGO off: static binaries, and no C toolchain needed; none of these need cgo.
(cd "$TOOLS" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/" "${PKGS[@]}")
kwok=$(cd "$TOOLS" && "$GO" list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)
for s in "${STAGES[@]}"; do echo "---"; cat "$kwok/kustomize/stage/$s.yaml"; done >"$tmp/kwok-stages.yaml"
for b in "${BINARIES[@]}" kwok-stages.yaml; do mv -f "$tmp/$b" "$BIN/$b"; done
echo "$stamp" >"$BIN/.stamp"
echo "built ${BINARIES[*]} in $(( $(date +%s) - start ))s ($(du -sh "$BIN" | cut -f1) in $BIN)"
