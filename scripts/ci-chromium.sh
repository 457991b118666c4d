#!/usr/bin/env bash
# Debian's chromium for the review app's browser tests (tests/test_review_browser.py, driven by
# Playwright with executable_path=/usr/bin/chromium; Playwright's own browsers are not used).
# Installs the `chromium` package only when /usr/bin/chromium is missing: as root, or with sudo
# when it works without a password. Exit status 1 when chromium is still missing.
set -euo pipefail

log() { echo "ci-chromium: $*" >&2; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  log "/usr/bin/chromium is missing and neither root nor sudo: not installed"
  exit 1
fi
log "installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >&2 || true
"${as_root[@]}" apt-get install -y -qq chromium >&2
[ -x /usr/bin/chromium ]
