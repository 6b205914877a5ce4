#!/usr/bin/env bash
# Renders the hand-drawn icons/needlework.svg into the PNG sizes the hicolor theme wants. The PNGs
# are committed (the build needs no SVG renderer); run this again after editing the SVG.
# Needs rsvg-convert (Debian package librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/icons"
for size in 16 22 24 32 48 64 128 256 512; do
  rsvg-convert --width "$size" --height "$size" --format png needlework.svg --output "needlework-$size.png"
done
echo "render-icons: wrote $(ls needlework-*.png | wc -l) PNGs in $(pwd)"
