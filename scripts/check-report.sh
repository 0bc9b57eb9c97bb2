#!/usr/bin/env bash
# Renders an evaluation report's index.html in headless Chromium (Debian package `chromium`)
# and saves a screenshot beside it, to check the page displays offline.
#
#   scripts/check-report.sh REPORT_DIR [WIDTH HEIGHT]
set -euo pipefail
dir="$(cd "$1" && pwd)"
w="${2:-1400}"
h="${3:-1800}"
[ -f "$dir/index.html" ] || { echo "$dir/index.html not found" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 1; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size="$w,$h" \
  --screenshot="$dir/screenshot.png" "file://$dir/index.html" 2>/dev/null
[ -s "$dir/screenshot.png" ] || { echo "no screenshot was written" >&2; exit 1; }
echo "wrote $dir/screenshot.png"
