#!/usr/bin/env bash
# Installs what is missing, builds everything with the tests, proves the engine builds without Qt,
# and runs the test suites. The README's second command; CI runs it (see .ci/run).
#
#   scripts/test.sh [--compiler gcc|clang] [ctest arguments...]
#
# gcc (default): Debian's GCC into build/, with the CUDA module when nvcc is present, plus the
# engine-only check. clang: Debian's clang into build-clang/ (no CUDA), so code whose meaning
# depends on what the standard leaves open (argument evaluation order) fails under one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=gcc
if [ "${1:-}" = "--compiler" ]; then
  compiler=${2:?--compiler needs gcc or clang}
  shift 2
fi
./scripts/setup-deps.sh

case $compiler in
gcc)
  ./scripts/check-format.sh
  dir=build
  mkdir -p "$dir"
  ./scripts/build.sh "$dir" RelWithDebInfo

  # GPU servers have only a compiler, CMake and CUDA: engine/ and kernels/ must configure and
  # build with Qt out of sight (NW_ENGINE_ONLY), so prove it on every run. Configure everything
  # engine-only (tests included), build the two libraries: that is what a GPU server needs, and
  # it keeps this check to a few minutes on two cores.
  echo "test: engine-only build with Qt hidden"
  cmake -S . -B build-engine-only -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_ENGINE_ONLY=ON -DNW_CUDA=OFF \
    -DNW_BUILD_BENCH=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Qt6=ON -DCMAKE_DISABLE_FIND_PACKAGE_SQLite3=ON \
    >build-engine-only.configure.log 2>&1 || { cat build-engine-only.configure.log; exit 1; }
  cmake --build build-engine-only -j "$(nproc)" --target nw_engine nw_kernels >/dev/null
  if grep -q '^Qt6_DIR:PATH=/' build-engine-only/CMakeCache.txt; then
    echo "test: the engine-only build found Qt; it must not need it"; exit 1
  fi
  ;;
clang)
  dir=build-clang
  mkdir -p "$dir"
  # RelWithDebInfo without the debug info: the same optimisation as the GCC build, half the link time.
  CC=clang CXX=clang++ ./scripts/build.sh "$dir" Release -DNW_CUDA=OFF -DNW_BUILD_BENCH=OFF
  ;;
*)
  echo "test: --compiler takes gcc or clang, not '$compiler'" >&2
  exit 2
  ;;
esac

ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" "$@"
