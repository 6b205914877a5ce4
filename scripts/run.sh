#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Release, runs the main job on the
# bundled default, and opens the window when a display is present.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
./scripts/build.sh build-release Release -DNW_BUILD_TESTS=OFF -DNW_BUILD_BENCH=OFF
exe=build-release/bin/needlework
db=build-release/demo.sqlite
"$exe" doctor
echo
# The main job: ingest the bundled sample corpus, answer three questions with citations, and
# show the KV planner (pass --model M.gguf to answer with a model instead of extractively).
"$exe" demo --db "$db" "$@"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run: opening the workbench window on $db"
  exec "$exe" --db "$db"
fi
echo "run: no display, so the window was not opened (open it later with: $exe --db $db)"
