#!/usr/bin/env bash
# Boot-to-phone-home in the PXE lab: the same VMs, kernel, initramfs and
# IPMI power-on, served once by Strata's boot server and once by a
# baseline of dnsmasq (DHCP, router advertisements, TFTP) and nginx
# (HTTP: a static iPXE script, the kernel, the initrd, the user-data, the
# phone-home). Each round powers VMS machines on at once through their
# BMCs and times each from `ipmitool power on` to its phone-home reaching
# the server. Target: Strata within 10% of the baseline. Needs root,
# make lab-deps, dnsmasq-base and nginx-light.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-4}
VMS=${VMS:-3}
[ "$(id -u)" = 0 ] || { echo "pxeboot.sh: needs root (the lab makes a network namespace)" >&2; exit 1; }
for t in dnsmasq nginx ipmitool curl; do command -v $t >/dev/null || { echo "pxeboot.sh: $t is missing" >&2; exit 1; }; done
work=$(mktemp -d)
lab="$work/lab"
NS=pxebench
NET=192.168.179
SRV=$NET.1
BMC=9701
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "$work/strata" lab down -dir "$lab" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/strata" ./cmd/strata
up() { "$work/strata" lab up -dir "$lab" -name $NS -vms "$VMS" -subnet $NET.0/24 -link 169.254.179.0/30 -bmc-port $BMC "$@" >/dev/null; set -a; . "$lab/lab.env"; set +a; }
ipmi() { ipmitool -I lanplus -H 127.0.0.1 -p $((BMC + $1)) -U admin -P "$STRATA_BMC_PASSWORD" -C 3 -N 1 -R 3 "${@:2}" >/dev/null; }
now() { date +%s.%N; }
head -c 4096 /dev/urandom | base64 >"$work/user-data"

# power_round FILE: powers every VM on at once, waits for each phone-home
# with WAITFN, appends "vm seconds" lines, powers them off.
power_round() {
  local t0 i on=()
  for i in $(seq 0 $((VMS - 1))); do ipmi "$i" chassis bootdev pxe; done
  t0=$(now)
  for i in $(seq 0 $((VMS - 1))); do ipmi "$i" chassis power on & on+=($!); done
  wait "${on[@]}" # not a bare wait: the baseline's servers are children too
  for _ in $(seq 1200); do "$WAITFN" "$t0" >/dev/null && break; sleep 0.1; done
  "$WAITFN" "$t0" >>"$1" || { echo "a VM did not phone home within 120 s" >&2; exit 1; }
  for i in $(seq 0 $((VMS - 1))); do ipmi "$i" chassis power off; done
  sleep 1
}

# ---- Strata: the lab's own boot server; one profile and machine per VM.
phoned() { grep -c 'machine phoned home' "$lab/boot/boot.log" 2>/dev/null || true; }
strata_up() {
up
PH0=$(phoned) # the log outlives lab down: count this round's lines only
A="Authorization: Bearer $STRATA_BOOT_TOKEN"
ud=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/user-data")
for i in $(seq 0 $((VMS - 1))); do
  curl -sf -XPUT -H "$A" -H 'Content-Type: application/json' "$STRATA_LAB_BOOT_SERVER/api/v1/profiles/p$i" \
    -d "{\"kernel\":\"vmlinuz\",\"initrd\":[\"initrd.gz\"],\"cmdline\":\"console=ttyS0 quiet\",\"user_data\":$ud}" >/dev/null
  curl -sf -XPOST -H "$A" -H 'Content-Type: application/json' "$STRATA_LAB_BOOT_SERVER/api/v1/machines" \
    -d "{\"name\":\"m$i\",\"mac\":\"52:54:00:57:00:$(printf %02x "$i")\",\"profile\":\"p$i\"}" >/dev/null
done
}
# strata_done T0: prints "m<i> seconds" for every machine, if all phoned home after T0.
# It polls ten times a second while three QEMUs share two cores, so it first
# counts the boot server's "phoned home" log lines, as cheap as base_done's awk
# over nginx's log; the API and python3 (~50 ms of CPU each) run once, at the end.
strata_done() {
  [ "$(phoned)" -ge $((PH0 + VMS)) ] || return 1
  curl -sf -H "$A" "$STRATA_LAB_BOOT_SERVER/api/v1/machines" | python3 -c '
import json, sys, datetime
t0 = float(sys.argv[1]); out = []
for m in json.load(sys.stdin):
    ph = m.get("phone_home")
    if not ph: sys.exit(1)
    ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    t = ts(ph["at"])
    if t < t0: sys.exit(1)
    # Stages: the script and the kernel fetched, as the boot server recorded them.
    at = {h["state"]: ts(h["at"]) - t0 for h in m["history"] if ts(h["at"]) > t0}
    out.append("%s %.2f %.2f %.2f" % (m["name"], t - t0, at.get("script-fetched", -1), at.get("kernel-fetched", -1)))
print("\n".join(out))' "$1"
}
strata_round() { strata_up; WAITFN=strata_done; power_round "$work/strata.times"; "$work/strata" lab down -dir "$lab" >/dev/null; }

# ---- Baseline: the same lab without its boot server, dnsmasq and nginx inside.
base_up() {
up -no-boot-server
rm -rf "$work/www" "$work/nginx" "$work/tftp"
mkdir -p "$work/www/m" "$work/nginx" "$work/tftp"
cp "$lab/assets/vmlinuz" "$lab/assets/initrd.gz" "$work/www/"
cp "$work/user-data" "$work/www/m/user-data"
cp /usr/lib/ipxe/undionly.kpxe "$work/tftp/"
cat >"$work/www/boot.ipxe" <<IPXE
#!ipxe
kernel http://$SRV:8080/vmlinuz initrd=initrd0 console=ttyS0 quiet ds=nocloud-net;s=http://$SRV:8080/m/
initrd --name initrd0 http://$SRV:8080/initrd.gz
boot
IPXE
chmod -R a+rX "$work"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
user root;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  log_format t '\$msec \$remote_addr \$request_uri \$status';
  access_log $work/nginx/access.log t;
  sendfile on;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen $SRV:8080;
    root $work/www;
    location = /m/phone-home { return 200 "ready\n"; }
  }
}
CONF
cat >"$work/dnsmasq.conf" <<CONF
port=0
interface=br0
bind-interfaces
user=root
dhcp-range=$NET.100,$NET.199,255.255.255.0,1h
dhcp-leasefile=$work/dnsmasq.leases
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:ipxe,175
dhcp-boot=tag:!ipxe,undionly.kpxe,,$SRV
dhcp-boot=tag:ipxe,http://$SRV:8080/boot.ipxe
dhcp-option=tag:ipxe,encap:175,176,1b
enable-ra
dhcp-range=::,constructor:br0,ra-only,64
enable-tftp
tftp-root=$work/tftp
no-ping
dhcp-authoritative
log-facility=$work/dnsmasq.log
CONF
ip netns exec $NS nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
ip netns exec $NS dnsmasq --keep-in-foreground -C "$work/dnsmasq.conf" &
pids+=($!)
sleep 1
}
base_down() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  "$work/strata" lab down -dir "$lab" >/dev/null
}
# base_done T0: prints "<addr> seconds" per phone-home after T0, if there are VMS of them.
base_done() {
  # Stages: boot.ipxe and vmlinuz served (nginx logs when a response ends).
  awk -v t0="$1" -v n="$VMS" '$1 > t0 && $3 == "/boot.ipxe" {script[$2] = $1 - t0} $1 > t0 && $3 == "/vmlinuz" {kernel[$2] = $1 - t0}
    $3 == "/m/phone-home" && $1 > t0 && !seen[$2]++ {out = out sprintf("%s %.2f %.2f %.2f\n", $2, $1 - t0, script[$2], kernel[$2]); k++}
    END {if (k < n) exit 1; printf "%s", out}' "$work/nginx/access.log"
}
base_round() { base_up; WAITFN=base_done; power_round "$work/base.times"; base_down; }

# Rounds alternate which goes first, so that what the machine does at the
# start (a cold page cache for QEMU, say) does not always fall on one.
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then strata_round; base_round; else base_round; strata_round; fi
done

stats() {
  sort -k2 -n "$1" | awk '{s+=$2; a[NR]=$2; sc+=$3; k+=$4} END {
    printf "mean %.2f s, median %.2f s, max %.2f s over %d boots (mean: script at %.2f s, kernel at %.2f s)", s/NR, a[int((NR+1)/2)], a[NR], NR, sc/NR, k/NR}'
}
echo "power-on -> phone-home, $VMS VMs at once, $ROUNDS rounds (QEMU TCG, 256 MiB)"
echo "  strata boot server:  $(stats "$work/strata.times")"
echo "  dnsmasq + nginx:     $(stats "$work/base.times")"
awk 'FNR==NR {s+=$2; n++; next} {b+=$2; m++} END {printf "  strata / baseline (means): %.3f (target <= 1.10)\n", (s/n)/(b/m)}' "$work/strata.times" "$work/base.times"
