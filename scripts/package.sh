#!/usr/bin/env bash
# Builds the Debian packages and checks them: scripts/package.sh [--cuda] [BUILD_DIR].
# Release, no tests or benchmarks. Without --cuda (NW_CUDA=OFF, default folder build-package):
# needlework, which runs the engine on the CPU. With --cuda (NW_CUDA=ON, needs nvcc; default
# folder build-package-cuda): needlework and needlework-cuda, the module the program loads when
# it is installed (see packaging/README.md). The check unpacks the CPU package alone with dpkg -x
# and runs `needlework --version` and `needlework doctor` from there (doctor must say the CUDA
# module is not installed), then both packages (doctor must find the module), and runs lintian,
# desktop-file-validate and appstreamcli validate (Debian packages lintian, desktop-file-utils,
# appstream).
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=OFF
if [ "${1:-}" = --cuda ]; then cuda=ON; shift; fi
dir=${1:-build-package$([ $cuda = ON ] && echo -cuda || true)}
for tool in dpkg-shlibdeps dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (Debian package dpkg-dev)"; exit 1; }
done
mkdir -p "$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNW_CUDA=$cuda \
  -DNW_BUILD_TESTS=OFF -DNW_BUILD_BENCH=OFF >"$dir/configure.log" 2>&1 \
  || { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)"
rm -f "$dir"/needlework_*.deb "$dir"/needlework-cuda_*.deb
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
deb=$(ls "$dir"/needlework_*.deb)
cuda_deb=
[ $cuda = ON ] && cuda_deb=$(ls "$dir"/needlework-cuda_*.deb)
for package in $deb $cuda_deb; do
  echo "package: $package"
  dpkg-deb --info "$package" | sed -n '/Package:/,$p'
done
bash tests/packaging/check_package.sh deb "$deb" $cuda_deb
