#!/usr/bin/env bash
# Builds the Debian package and checks it: scripts/package.sh [BUILD_DIR] (default build-package).
# Release, CPU backend only (NW_CUDA=OFF: a CUDA build links libcudart from the NVIDIA toolkit,
# which no Debian package provides; see packaging/README.md), no tests or benchmarks. The check
# unpacks the .deb with dpkg -x, runs `needlework --version` and `needlework doctor` from there,
# and runs lintian, desktop-file-validate and appstreamcli validate
# (Debian packages lintian, desktop-file-utils, appstream).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-package}
for tool in dpkg-shlibdeps dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (Debian package dpkg-dev)"; exit 1; }
done
mkdir -p "$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_CUDA=OFF \
  -DNW_BUILD_TESTS=OFF -DNW_BUILD_BENCH=OFF >"$dir/configure.log" 2>&1 \
  || { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)"
rm -f "$dir"/needlework_*.deb
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
deb=$(ls "$dir"/needlework_*.deb)
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
bash tests/packaging/check_package.sh deb "$deb"
