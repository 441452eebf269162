#!/usr/bin/env bash
# Debian data packages fedsim reads offline. As root: installs what is missing.
# Otherwise: prints the exact command and carries on (those data sets then report themselves
# missing with a clear error when a run asks for them).
set -euo pipefail
packages=(dataset-fashion-mnist bible-kjv fortunes fonts-noto-color-emoji)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "fedsim setup: installing Debian data packages: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "fedsim setup: optional Debian data packages are missing; install them with:"
  echo "  sudo apt-get install -y ${missing[*]}"
fi
