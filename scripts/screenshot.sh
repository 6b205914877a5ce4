#!/usr/bin/env bash
# Makes the documentation's screenshots in docs/: the window at 1280×720 and at 1920×1080, each
# showing the reader (a search hit open at fit width, a question answered), the KV meter, the
# Needle Lab after a small run, and the first-run view — docs/screenshot-<W>x<H>-<view>.png — plus
# docs/screenshot.png (the 1280×720 reader, shown in the README). Builds what it needs, runs the
# demo for its library, then grabs the window (tests/ui/tst_screenshot.cpp) under Xvfb, one
# virtual screen per size (scripts/setup-deps.sh installs xvfb).
#   scripts/screenshot.sh [MODEL.gguf]   (default: ../shared/conformance/models/stories260K.gguf if present)
# NW_BUILD_DIR picks the build folder (default build-screenshot); NW_SCREENSHOT_DIR the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NW_BUILD_DIR:-build-screenshot}
out=${NW_SCREENSHOT_DIR:-docs}
model=${1:-}
if [ -z "$model" ] && [ -f ../shared/conformance/models/stories260K.gguf ]; then
  model=$(realpath ../shared/conformance/models/stories260K.gguf)
fi
command -v xvfb-run >/dev/null || { echo "screenshot: needs Xvfb (scripts/setup-deps.sh, or apt-get install xvfb xauth)" >&2; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_BUILD_TESTS=ON -DNW_BUILD_BENCH=OFF \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi
cmake --build "$build" --target needlework ui_tst_screenshot -j "$(nproc)"

mkdir -p "$build/screenshot" "$out"
db=$(realpath "$build/screenshot")/demo.sqlite
echo "screenshot: demo database $db"
"$build/bin/needlework" demo --db "$db" >"$build/screenshot/demo.log" 2>&1 \
  || { cat "$build/screenshot/demo.log"; exit 1; }

export NW_SCREENSHOT_DB=$db NW_SCREENSHOT_MODEL=$model NW_SCREENSHOT_DIR=$(realpath "$out")
export NW_SOURCE_DIR=$PWD QT_QPA_PLATFORM=xcb
for size in 1280x720 1920x1080; do
  echo "screenshot: ${size} under Xvfb${model:+ (model: $(basename "$model"))}"
  xvfb-run -a -s "-screen 0 ${size}x24 -dpi 96" "$build/tests/ui_tst_screenshot"
done
cp "$out/screenshot-1280x720-reader.png" "$out/screenshot.png"
ls -l "$out"/screenshot*.png
