#!/usr/bin/env bash
# Fetches the benchmark's photographs: real JPEGs of 2-24 megapixels shipped
# under free licences in Debian wallpaper packages. Downloads the packages
# with `apt-get download` (no install, no root needed) and unpacks them with
# `dpkg-deb -x` into DIR/raw. scripts/bench picks its corpus from there.
#
#   scripts/bench-corpus.sh [DIR]     (default ./.bench/corpus)
#
# Does nothing when DIR/raw is already complete.
set -euo pipefail

dir=${1:-./.bench/corpus}
pkgs=(lomiri-wallpapers-20.04 plasma-workspace-wallpapers mate-backgrounds)

if [ -e "$dir/raw/.complete" ]; then
  exit 0
fi
for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench-corpus: $tool is missing; the corpus comes from Debian packages" >&2
    exit 1
  fi
done

mkdir -p "$dir/debs" "$dir/raw"
dir=$(cd "$dir" && pwd)
cd "$dir/debs"
# apt drops to the _apt user to download; let it write here.
chmod 0777 "$dir/debs" 2>/dev/null || true
missing=()
for p in "${pkgs[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-corpus: downloading ${missing[*]}" >&2
  if ! apt-get download "${missing[@]}"; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "bench-corpus: refreshing the package lists and trying again" >&2
      apt-get update -qq
      apt-get download "${missing[@]}"
    else
      echo "bench-corpus: apt-get download failed; run 'sudo apt-get update' and try again" >&2
      exit 1
    fi
  fi
fi
for deb in ./*.deb; do
  echo "bench-corpus: unpacking $deb" >&2
  dpkg-deb -x "$deb" "$dir/raw"
done
touch "$dir/raw/.complete"
