#!/usr/bin/env bash
# install-missing.sh WHAT:PACKAGE...: apt-get installs each Debian PACKAGE
# whose WHAT (a command on PATH or a file) is missing, in one transaction.
# Maintainer scripts must not start services (nginx, say): the image's
# /usr/sbin/policy-rc.d (exit 101) holds them, or a temporary one of ours.
# Used by make deps, lab-deps and bench-deps.
set -euo pipefail
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
missing=()
for t in "$@"; do
  what=${t%%:*}
  [ -e "$what" ] || command -v "$what" >/dev/null 2>&1 || missing+=("${t#*:}")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "installing: ${missing[*]}"
ours=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  ours=1
fi
trap '[ -z "$ours" ] || $sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
