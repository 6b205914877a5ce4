#!/usr/bin/env bash
# Makes docs/screenshot.png: the window on the demo database with a search done, its first hit open,
# a question answered and the KV meter populated. Builds what it needs, runs the demo, then grabs
# the window (tests/ui/tst_screenshot.cpp) under Xvfb, or Qt's offscreen platform without Xvfb.
#   scripts/screenshot.sh [MODEL.gguf]   (default: ../shared/conformance/models/stories260K.gguf if present)
# NW_BUILD_DIR picks the build folder (default build-screenshot); NW_SCREENSHOT_OUT the image.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NW_BUILD_DIR:-build-screenshot}
out=${NW_SCREENSHOT_OUT:-docs/screenshot.png}
model=${1:-}
if [ -z "$model" ] && [ -f ../shared/conformance/models/stories260K.gguf ]; then
  model=$(realpath ../shared/conformance/models/stories260K.gguf)
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_BUILD_TESTS=ON -DNW_BUILD_BENCH=OFF \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi
cmake --build "$build" --target needlework ui_tst_screenshot -j "$(nproc)"

mkdir -p "$build/screenshot" "$(dirname "$out")"
db=$(realpath "$build/screenshot")/demo.sqlite
echo "screenshot: demo database $db"
"$build/bin/needlework" demo --db "$db" >"$build/screenshot/demo.log" 2>&1 \
  || { cat "$build/screenshot/demo.log"; exit 1; }

export NW_SCREENSHOT_DB=$db NW_SCREENSHOT_MODEL=$model NW_SCREENSHOT_OUT=$(realpath -m "$out")
export NW_SOURCE_DIR=$PWD
if command -v xvfb-run >/dev/null; then
  echo "screenshot: grabbing under Xvfb${model:+ (model: $(basename "$model"))}"
  QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" "$build/tests/ui_tst_screenshot"
else
  echo "screenshot: no Xvfb (apt-get install xvfb); grabbing on Qt's offscreen platform"
  QT_QPA_PLATFORM=offscreen "$build/tests/ui_tst_screenshot"
fi
echo "screenshot: wrote $out ($(stat -c %s "$out") bytes)"
