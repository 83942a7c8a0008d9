#!/usr/bin/env bash
# TFTP benchmark: Strata's TFTP server (acceptance/bench/tftpbench, a thin
# main around provisioners/baremetal/tftp) against dnsmasq's, side by side
# on this machine, with the same random file (30 MiB) and the same client,
# atftp with blksize 1468 (an Ethernet frame):
#   - 1 and 50 concurrent clients, lock-step (equal options), and Strata
#     with windowsize 16 (RFC 7440, which dnsmasq does not implement: it
#     ignores the option, shown in the "dnsmasq ws16 asked" row);
#   - 500 concurrent sessions against Strata (1 MiB file), counting failures.
# Every download's SHA-256 is checked. Targets: Strata >= dnsmasq at equal
# options, >= 4x dnsmasq with windowsize 16, 500 sessions without failure.
#
# dnsmasq's TFTP listens on port 69 only, so both servers run on loopback
# in a network namespace the script creates (and deletes on exit): dnsmasq
# on 127.0.0.1:69, Strata on 127.0.0.2:69, no DNS, no DHCP. Runs alternate
# between the servers and the table shows medians, since other work on the
# machine shifts single runs. Needs root (ip netns).
#
# CPU placement shifts lock-step results: a client and a server on one
# CPU hand each packet over within the CPU, while on two CPUs (in a VM)
# every hand-over is an inter-processor wakeup, up to 10x slower. PIN=none
# (the default) leaves placement to the scheduler, as two servers would
# run on this machine; PIN=split puts the servers on CPU 0 and the clients
# on CPU 1, like two machines on a LAN (and holds Strata to one CPU, like
# dnsmasq); PIN=same puts everything on CPU 0, so that only CPU cost
# counts. The 500 sessions stand for 500 machines, so their clients may use
# every CPU whatever PIN says: 500 atftp processes on one CPU measure that
# CPU, not the server.
#
# Usage: acceptance/bench/tftp.sh [SIZE_MIB] [CLIENTS] [SESSIONS]
#        (defaults 30 50 500; REPS=7 single-client and REPS_MANY=3
#        multi-client repetitions; PIN=none|split|same)
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk print decimal points
cd "$(dirname "$0")/../.."
size_mib=${1:-30}
clients=${2:-50}
sessions=${3:-500}
reps=${REPS:-7}
reps_many=${REPS_MANY:-3}
client_timeout=300 # seconds, per atftp process
pin=${PIN:-none}
[ "$(nproc)" -ge 2 ] || pin=none
case $pin in
  split) server_cpu=(taskset -c 0) client_cpu=(taskset -c 1) ;;
  same) server_cpu=(taskset -c 0) client_cpu=(taskset -c 0) ;;
  none) server_cpu=() client_cpu=() ;;
  *) echo "PIN must be split, same or none" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "tftp.sh needs root: it creates a network namespace" >&2; exit 1; }
bash acceptance/install-missing.sh atftp:atftp /usr/sbin/dnsmasq:dnsmasq-base flock:util-linux

# tmpfs when there is one, so that writing the downloads measures neither
# server's disk.
base=/tmp
[ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d -p "$base" strata-tftp-bench.XXXXXX)
chmod 755 "$work"
ns=strata-tftp-bench-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
inns() { ip netns exec "$ns" "$@"; }

go build -o "$work/tftpbench" ./acceptance/bench/tftpbench
root=$work/root
mkdir "$root"
head -c $((size_mib << 20)) /dev/urandom >"$root/big.bin"
head -c $((1 << 20)) /dev/urandom >"$root/small.bin"
echo ready >"$root/ready"
chmod 644 "$root"/*
big_sha=$(sha256sum <"$root/big.bin" | cut -d' ' -f1)
small_sha=$(sha256sum <"$root/small.bin" | cut -d' ' -f1)

ip netns add "$ns"
inns ip link set lo up # 127.0.0.0/8 is all local: no addresses to add

# `ip netns exec` execs the command, so $! is the server's own PID (inns,
# a function, would run in a subshell when sent to the background).
ip netns exec "$ns" "${server_cpu[@]}" /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
  --enable-tftp --tftp-root="$root" --tftp-max=$((sessions + 100)) --quiet-tftp \
  --listen-address=127.0.0.1 --bind-interfaces --user=root --group=root \
  --pid-file= --log-facility="$work/dnsmasq.log" &
pids+=($!)
ip netns exec "$ns" "${server_cpu[@]}" "$work/tftpbench" -root "$root" -addr 127.0.0.2:69 -window 16 >"$work/strata.out" 2>"$work/strata.log" &
strata_pid=$!
pids+=($strata_pid)
for host in 127.0.0.1 127.0.0.2; do
  for i in $(seq 100); do
    inns timeout 2 atftp --get -r ready -l /dev/null "$host" 69 >/dev/null 2>&1 && break
    [ "$i" = 100 ] && { echo "no TFTP server on $host:69" >&2; cat "$work"/*.log >&2; exit 1; }
    sleep 0.1
  done
done
server_host() { case $1 in dnsmasq) echo 127.0.0.1 ;; strata) echo 127.0.0.2 ;; sessions) echo 127.0.0.3 ;; esac; }
echo "negotiated with blksize 1468 + windowsize 16 asked:"
for s in dnsmasq strata; do
  trace=$(inns timeout 10 atftp --trace --option "blksize 1468" --option "windowsize 16" \
    --get -r ready -l /dev/null "$(server_host $s)" 69 2>&1 || true)
  printf '  %-8s %s\n' "$s" "$(grep -m1 'received OACK' <<<"$trace" || echo "no OACK")"
done

# The clients: N atftp processes started together. Each waits on a shared
# lock this script holds exclusively until all are forked, so that they
# overlap; each records its exit code and its own start and end.
cat >"$work/clients.sh" <<'EOF'
host=$1 n=$2 file=$3 out=$4 tmo=$5
shift 5
exec 8>"$out/.lock"
flock -x 8
for i in $(seq 1 "$n"); do
  (
    exec 8>&-
    flock -s 9
    exec 9<&-
    s=$EPOCHREALTIME
    if timeout "$tmo" atftp "$@" --get -r "$file" -l "$out/$i.bin" "$host" 69 >"$out/$i.log" 2>&1; then rc=0; else rc=$?; fi
    echo "$i $rc $s $EPOCHREALTIME" >"$out/$i.time"
  ) 9<"$out/.lock" &
done
flock -u 8
exec 8>&-
wait
EOF

results=$work/results # lines: label MB/s min median max failures
: >"$results"
# run LABEL SERVER N FILE SHA ATFTP-OPTIONS...: one batch of N concurrent
# downloads; appends aggregate MB/s, per-client wall times and failures.
run() {
  local label=$1 server=$2 n=$3 file=$4 sha=$5
  shift 5
  local out=$work/out
  rm -rf "$out"
  mkdir "$out"
  timeout $((client_timeout + 60)) ip netns exec "$ns" "${run_cpu[@]}" bash "$work/clients.sh" \
    "$(server_host "$server")" "$n" "$file" "$out" "$client_timeout" "$@"
  local bad
  bad=$(
    cd "$out"
    for i in $(seq 1 "$n"); do
      read -r _ rc _ _ <"$i.time" 2>/dev/null || rc=timeout
      if [ "$rc" != 0 ] || [ "$(sha256sum <"$i.bin" 2>/dev/null | cut -d' ' -f1)" != "$sha" ]; then
        echo "$i"
      fi
    done
  )
  local failures=0
  if [ -n "$bad" ]; then
    failures=$(wc -l <<<"$bad")
    echo "  $label: $failures failed downloads, e.g. client $(head -1 <<<"$bad"):" >&2
    tail -3 "$out/$(head -1 <<<"$bad").log" >&2 || true
  fi
  local bytes span walls
  bytes=$(stat -c %s "$root/$file")
  # Aggregate: all bytes over first start to last end.
  span=$(cat "$out"/*.time | awk 'NR == 1 || $3 < s { s = $3 } NR == 1 || $4 > e { e = $4 } END { print e - s }')
  walls=$(cat "$out"/*.time | awk '{ printf "%.3f\n", $4 - $3 }' | sort -n | awk '{ w[NR] = $1 } END { print w[1], w[int((NR + 1) / 2)], w[NR] }')
  echo "$label $(awk -v n="$n" -v b="$bytes" -v t="$span" 'BEGIN { printf "%.1f", n * b / t / 1e6 }') $walls $failures" >>"$results"
  rm -rf "$out"
}

run_cpu=("${client_cpu[@]}")
lock=(--option "blksize 1468")
window=(--option "blksize 1468" --option "windowsize 16")
# Configurations: label:server:options (lock or window).
single=(dnsmasq:dnsmasq:lock dnsmasq_ws16_asked:dnsmasq:window strata:strata:lock strata_ws16:strata:window)
many=(dnsmasq:dnsmasq:lock strata:strata:lock strata_ws16:strata:window)
# batch REPS N CONFIGS...: each configuration REPS times, rotating the
# order per repetition so that no server always runs right after the other.
batch() {
  local r=$1 n=$2
  shift 2
  local cfgs=("$@") rep k label server opts
  for rep in $(seq 1 "$r"); do
    for k in $(seq 0 $((${#cfgs[@]} - 1))); do
      IFS=: read -r label server opts <<<"${cfgs[$(((k + rep) % ${#cfgs[@]}))]}"
      if [ "$opts" = window ]; then
        run "$label@$n" "$server" "$n" big.bin "$big_sha" "${window[@]}"
      else
        run "$label@$n" "$server" "$n" big.bin "$big_sha" "${lock[@]}"
      fi
    done
  done
}
echo "1 client x ${size_mib} MiB, $reps runs each..."
batch "$reps" 1 "${single[@]}"
echo "$clients clients x ${size_mib} MiB, $reps_many runs each..."
batch "$reps_many" "$clients" "${many[@]}"

# The sessions batch runs against a fresh Strata server, so that its
# totals (and the peak number of transfers running at once) cover it alone.
ip netns exec "$ns" "${server_cpu[@]}" "$work/tftpbench" -root "$root" -addr 127.0.0.3:69 -window 16 >"$work/sessions.out" 2>"$work/sessions.log" &
sessions_pid=$!
pids+=($sessions_pid)
for i in $(seq 100); do
  inns timeout 2 atftp --get -r ready -l /dev/null 127.0.0.3 69 >/dev/null 2>&1 && break
  [ "$i" = 100 ] && { echo "no TFTP server on 127.0.0.3:69" >&2; cat "$work/sessions.log" >&2; exit 1; }
  sleep 0.1
done
echo "$sessions concurrent sessions x 1 MiB against Strata..."
run_cpu=()
run "sessions@$sessions" sessions "$sessions" small.bin "$small_sha" "${window[@]}"
kill -TERM "$sessions_pid"
wait "$sessions_pid" || true
kill -TERM "$strata_pid"
wait "$strata_pid" || true

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$results" | median; }
fails() { awk -v l="$1" '$1 == l { f += $6 } END { print f + 0 }' "$results"; }
echo
printf '%-34s %8s %30s %9s %9s\n' "run (atftp, blksize 1468)" "MB/s" "per-client wall s min/med/max" "failures" "x dnsmasq"
for n in 1 "$clients"; do
  d=$(col "dnsmasq@$n" 2)
  for label in dnsmasq dnsmasq_ws16_asked strata strata_ws16; do
    grep -q "^$label@$n " "$results" || continue
    mbs=$(col "$label@$n" 2)
    printf '%-34s %8.1f %14.3f/%.3f/%.3f %9d %9.2f\n' "$label, $n client(s)" "$mbs" \
      "$(col "$label@$n" 3)" "$(col "$label@$n" 4)" "$(col "$label@$n" 5)" "$(fails "$label@$n")" \
      "$(awk -v a="$mbs" -v b="$d" 'BEGIN { print a / b }')"
  done
done
printf '%-34s %8.1f %14.3f/%.3f/%.3f %9d\n' "strata_ws16, $sessions sessions" "$(col "sessions@$sessions" 2)" \
  "$(col "sessions@$sessions" 3)" "$(col "sessions@$sessions" 4)" "$(col "sessions@$sessions" 5)" "$(fails "sessions@$sessions")"
echo "Strata server, $sessions-session batch: $(cat "$work/sessions.out")"
echo "Strata server, all other runs: $(cat "$work/strata.out")"
echo "(MB = 10^6 bytes; MB/s over all clients, first start to last end; medians over $reps single-client and $reps_many multi-client runs; CPU placement $pin; all downloads' SHA-256 checked)"
total=$(awk '{ f += $6 } END { print f + 0 }' "$results")
[ "$total" = 0 ] || { echo "$total failed downloads" >&2; exit 1; }
