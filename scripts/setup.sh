#!/usr/bin/env bash
# Installs, through Debian's apt-get, whatever vqc needs that is missing.
# Quick when everything is there: it only asks dpkg. Needs root to install.
set -euo pipefail
pkgs=(build-essential flex bison pkg-config libopenblas-dev libcmocka-dev libpng-dev zlib1g-dev
      dataset-fashion-mnist python3-numpy python3-torch gnuplot-nox)
# `setup.sh fuzz` adds what `make fuzz` needs (clang's libFuzzer).
[ "${1:-}" = fuzz ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
