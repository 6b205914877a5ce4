#!/usr/bin/env bash
# Copies the header-only dependencies of engine/ and kernels/ (spdlog and fmt in header-only mode,
# doctest, Eigen) into .headers/ (git-ignored), so an engine-only build works on a GPU server that
# has no Debian packages: carry the checkout there and configure with -DNW_ENGINE_ONLY=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.headers
rm -rf "$out" && mkdir -p "$out"
cp -r /usr/include/spdlog "$out/"
cp -r /usr/include/fmt "$out/"
cp -r /usr/include/doctest "$out/"
cp -r /usr/include/eigen3/Eigen "$out/"
# fmt's header-only mode needs its sources as headers
[ -f /usr/include/fmt/format-inl.h ] || echo "warning: fmt/format-inl.h missing: fmt header-only mode will not link"
echo "packed $(du -sh "$out" | cut -f1) of headers into $out"
