#!/usr/bin/env bash
# Regenerates the README screenshots (docs/images/*.png) by running the browser journeys in
# test/e2e with SCREENSHOTS=1: real Chromium, the example app in demo mode, 1280x800.
#
#   bash scripts/screenshots.sh
#
# Needs Chromium (Debian: apt-get install chromium, or set CHROMIUM_PATH) and a Korean font
# (Debian: apt-get install fonts-nanum), else the Korean text would render as empty boxes.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=(01-home 02-consent 03-logged-in 04-login-cancelled)

if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=ko family)" ]; then
  echo "No Korean font is installed, so the screenshots would show boxes instead of text." >&2
  echo "Install one (Debian: apt-get install fonts-nanum) and run this again." >&2
  exit 1
fi

for name in "${IMAGES[@]}"; do rm -f "docs/images/$name.png"; done
SCREENSHOTS=1 npx jest test/e2e/journeys.test.ts --runInBand

missing=0
for name in "${IMAGES[@]}"; do
  if [ ! -s "docs/images/$name.png" ]; then
    echo "docs/images/$name.png was not written" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1
ls -l docs/images/
