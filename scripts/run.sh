#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Release, runs the main job on the
# bundled default, and opens the window when a display is present.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
./scripts/build.sh build-release Release -DNW_BUILD_TESTS=OFF -DNW_BUILD_BENCH=OFF
exe=build-release/bin/needlework
"$exe" demo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run: opening the workbench window"
  exec "$exe" "$@"
fi
echo "run: no display, so the window was not opened (start it later with $exe)"
