#!/usr/bin/env bash
# What `python -m venv` needs before the Makefile makes .venv: Debian ships its Python
# without ensurepip, which venv uses to put pip in, unless python3.X-venv is installed.
# Installed when missing and we are root on a Debian-like machine; otherwise the command
# to install it is said, and this fails (venv would, with a longer message).
#   scripts/venv-deps.sh [the python command, as words: python3 by default]
set -euo pipefail
[ $# -gt 0 ] || set -- python3
"$@" -c 'import ensurepip' 2>/dev/null && exit 0
package=$("$@" -c 'import sys; print(f"python3.{sys.version_info[1]}-venv")')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's $package, which python -m venv needs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
else
  echo "$* -m venv needs ensurepip, which Debian and Ubuntu ship in $package:" \
       "sudo apt-get install $package" >&2
  exit 1
fi
