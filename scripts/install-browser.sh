#!/usr/bin/env bash
# Install Debian's Chromium for the web UI's browser tests (tests/ui), idempotently.
# Playwright drives it with executable_path=/usr/bin/chromium: `playwright install` downloads
# browser builds from a CDN that these machines cannot reach, and Debian's package needs no download
# outside the distribution's mirrors. Runs as root (CI) or through sudo when available.
set -euo pipefail

CHROMIUM="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium: not found at $CHROMIUM and apt-get is not available; install Chromium and set CHROMIUM_BIN" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "chromium: run as root (or install the 'chromium' package) to get $CHROMIUM" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
"$CHROMIUM" --version
