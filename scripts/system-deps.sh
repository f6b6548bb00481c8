#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the browser tests, nginx, which
# runs docs/production.md's proxy block in tests/api/test_nginx.py, and curl, which runs
# the README's curl lines in tests/api/test_readme_example.py. Installed when missing
# and we are root on a Debian-like machine; otherwise those tests skip and say why.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} = 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the tests"
  # the test runs nginx itself, on loopback: the package's own service (port 80, every
  # interface) is not started, by Debian's policy-rc.d hook, set for the install alone
  # where the machine has none
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "${missing[*]} missing and cannot be installed here (need root and apt-get);" \
       "the tests that need them will be skipped" >&2
fi
