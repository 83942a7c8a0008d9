#!/usr/bin/env bash
# The boot server's asset serving (strata boot serve, /assets/) against
# nginx on the same files, both on 127.0.0.1, loaded with wrk: a 30 MB
# initrd (bandwidth) and a 64 KB file (request rate). Target: strata >=
# 0.8x nginx. Needs nginx-light (or nginx) and wrk (apt-get install
# --no-install-recommends nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${DUR:-10s}
for t in nginx wrk; do command -v $t >/dev/null || { echo "http.sh: $t is missing (apt-get install --no-install-recommends nginx-light wrk)" >&2; exit 1; }; done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/strata" ./cmd/strata
mkdir -p "$work/assets" "$work/data" "$work/nginx"
head -c 30000000 /dev/urandom >"$work/assets/initrd.img"
head -c 65536 /dev/urandom >"$work/assets/small.bin"
chmod -R a+rX "$work"

STRATA_BOOT_TOKEN=bench-token-0123456789 "$work/strata" boot serve -data "$work/data" -http 127.0.0.1:18180 \
  -assets "$work/assets" -tftp "" >"$work/strata.log" 2>&1 &
pids+=($!)
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:18181;
    location /assets/ { root $work; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for u in http://127.0.0.1:18180/assets/small.bin http://127.0.0.1:18181/assets/small.bin; do
  for _ in $(seq 50); do curl -sf -o /dev/null "$u" && break; sleep 0.1; done
  curl -sf -o /dev/null "$u" || { echo "not serving: $u" >&2; cat "$work/strata.log" "$work/nginx/error.log" >&2; exit 1; }
done

# run LABEL URL CONNS: prints requests/s and MB/s.
run() {
  local out rps mbs
  out=$(wrk -t2 -c"$3" -d"$DUR" --latency "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  mbs=$(awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) v*=1024; else if (v ~ /KB/) v/=1024; print v+0}' <<<"$out")
  grep -q "Non-2xx" <<<"$out" && { echo "$1: errors:"; echo "$out"; exit 1; }
  printf '%-34s %10s req/s %10.1f MB/s\n' "$1" "$rps" "$mbs" >&2
  echo "$rps"
}
# Rounds alternate the two servers so that load from elsewhere on the
# machine falls on both alike; the median of each is reported.
ROUNDS=${ROUNDS:-3}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "wrk -t2, $DUR per run, $ROUNDS alternating rounds, both servers on 127.0.0.1" >&2
: >"$work/results"
for r in $(seq "$ROUNDS"); do
  echo "sb $(run "strata 30 MB, 10 connections" http://127.0.0.1:18180/assets/initrd.img 10)" >>"$work/results"
  echo "nb $(run "nginx  30 MB, 10 connections" http://127.0.0.1:18181/assets/initrd.img 10)" >>"$work/results"
  echo "ss $(run "strata 64 KB, 50 connections" http://127.0.0.1:18180/assets/small.bin 50)" >>"$work/results"
  echo "ns $(run "nginx  64 KB, 50 connections" http://127.0.0.1:18181/assets/small.bin 50)" >>"$work/results"
done
m() { awk -v k="$1" '$1==k {print $2}' "$work/results" | median; }
awk -v a="$(m sb)" -v b="$(m nb)" -v c="$(m ss)" -v d="$(m ns)" 'BEGIN {
  printf "median req/s: strata 30 MB %s, nginx 30 MB %s, strata 64 KB %s, nginx 64 KB %s\n", a, b, c, d
  printf "strata/nginx: 30 MB %.2f, 64 KB %.2f (target >= 0.8)\n", a/b, c/d }'
