#!/usr/bin/env bash
# Installs the Debian 12 packages Needlework needs to build, test and run. Non-interactive and
# idempotent: when everything is present it only checks (a second or two) and changes nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git python3
  # a second compiler for the test suite (scripts/test.sh --compiler clang), the format check, and
  # LLVM's OpenMP runtime (nw_ingest links OpenMP to keep Tesseract's own threads off; GCC's libgomp
  # comes with g++)
  clang clang-format libomp-dev
  # libraries
  qt6-base-dev qt6-base-dev-tools qt6-charts-dev libqt6opengl6-dev libgl-dev
  libpoppler-qt6-dev libpoppler-private-dev libsqlite3-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libeigen3-dev
  # `needlework serve`: the HTTP server library
  libcpp-httplib-dev
  # the other formats: OCR of scanned pages (Tesseract, Leptonica, English models), email (GMime),
  # the zip inside .docx/.odt (libzip), HTML (Gumbo)
  libtesseract-dev libleptonica-dev tesseract-ocr-eng libgmime-3.0-dev libzip-dev libgumbo-dev
  # tests: doctest for the Qt-free modules, qpdf to encrypt test PDFs, pdftotext as the ingest
  # benchmark's peer, a font for the PDFs the tests draw, Xvfb for screenshots, French OCR models
  # (the two-language test), the tesseract command as the OCR benchmark's peer, and Prometheus's
  # text-format parser for the serve test's /metrics
  doctest-dev qpdf poppler-utils python3-prometheus-client fonts-dejavu-core fonts-wqy-microhei xvfb xauth tesseract-ocr-fra tesseract-ocr
  # packaging checks: the .deb and the installed tree (lintian, desktop entry, AppStream, man, zsh)
  dpkg-dev lintian desktop-file-utils appstream man-db zsh
  # the clean-machine check (scripts/check-fresh-machine.sh)
  mmdebstrap
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
