#!/usr/bin/env bash
# System packages the browser tests need: Debian's chromium. Installed when missing and we
# are root on a Debian-like machine; otherwise the browser tests skip and say why.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is missing and cannot be installed here (need root and apt-get);" \
       "browser tests will be skipped" >&2
fi
