#!/usr/bin/env bash
# Installs what is missing, builds everything with the tests, proves the engine builds without Qt,
# and runs the test suites. The README's second command; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
mkdir -p build
./scripts/build.sh build RelWithDebInfo

# GPU servers have only a compiler, CMake and CUDA: engine/ and kernels/ must configure and build
# with Qt out of sight (NW_ENGINE_ONLY), so prove it on every run.
echo "test: engine-only build with Qt hidden"
# Configure everything engine-only (tests included), build the two libraries: that is what a GPU
# server needs, and it keeps this check to a few minutes on two cores.
cmake -S . -B build-engine-only -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_ENGINE_ONLY=ON -DNW_CUDA=OFF \
  -DNW_BUILD_BENCH=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Qt6=ON -DCMAKE_DISABLE_FIND_PACKAGE_SQLite3=ON \
  >build-engine-only.configure.log 2>&1 || { cat build-engine-only.configure.log; exit 1; }
cmake --build build-engine-only -j "$(nproc)" --target nw_engine nw_kernels >/dev/null
if grep -q '^Qt6_DIR:PATH=/' build-engine-only/CMakeCache.txt; then
  echo "test: the engine-only build found Qt; it must not need it"; exit 1
fi

ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
