#!/usr/bin/env bash
# Fetches the benchmark's photographs: real JPEGs of 2-24 megapixels shipped
# under free licences in Debian wallpaper packages. Downloads the packages
# with `apt-get download` (no install, no root needed) and unpacks them with
# `dpkg-deb -x` into DIR/raw (about 150 MB). scripts/bench picks its corpus
# from there.
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
# As root, apt downloads as the _apt user, who cannot write here: keep root.
apt_opts=()
[ "$(id -u)" -eq 0 ] && apt_opts=(-o APT::Sandbox::User=root)
missing=()
for p in "${pkgs[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-corpus: downloading ${missing[*]}" >&2
  if ! apt-get "${apt_opts[@]}" download "${missing[@]}"; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "bench-corpus: refreshing the package lists and trying again" >&2
      apt-get update -qq
      apt-get "${apt_opts[@]}" download "${missing[@]}"
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
rm -rf "$dir/debs" # unpacked: no longer needed
