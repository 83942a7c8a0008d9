#!/usr/bin/env bash
# Times `strata validate` and `strata plan -json` on the generated
# 10,000-machine stack (4 substrates, 3 layers) pinned to one core, and
# reports wall time and peak RSS. Target: < 500 ms and < 256 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/strata" ./cmd/strata
STRATA_BIGSTACK_OUT="$work/big.strata.hcl" go test -count=1 -run '^TestBigStackIsValid$' ./stacks/plan/ >/dev/null
echo "stack: $(wc -c <"$work/big.strata.hcl") bytes"
for cmd in validate "plan -json"; do
  for i in 1 2 3; do
    /usr/bin/time -f "%e s wall, %M KiB peak RSS" taskset -c 0 "$work/strata" $cmd "$work/big.strata.hcl" >/dev/null 2>"$work/time" || { cat "$work/time"; exit 1; }
    echo "strata $cmd: $(tail -1 "$work/time")"
  done
done
