#!/usr/bin/env bash
# Installs what s3thumb needs to build and run: libvips (with its headers, for
# cgo) and vipsthumbnail (the benchmark's floor). Idempotent; uses apt when
# run as root, and otherwise says what to install.
set -euo pipefail

need=()
pkg-config --exists vips 2>/dev/null || need+=(libvips-dev)
command -v vipsthumbnail >/dev/null 2>&1 || need+=(libvips-tools)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "s3thumb needs: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "s3thumb needs libvips 8.10 or newer with its headers (${need[*]} on Debian); install it with your package manager" >&2
  exit 1
fi
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
