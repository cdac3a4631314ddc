#!/usr/bin/env bash
# Fetch real sample data that ships in Debian packages, without installing them:
#   vtest.avi   real pedestrians (opencv-doc), used by the demo and the real-footage tests
#   bvh/*.bvh   CMU motion capture (assimp-testmodels), used to make training clips
# Usage: scripts/get_sample_data.sh [DIR]   (default: ./sample_data)
set -euo pipefail
dest=${1:-sample_data}
mkdir -p "$dest/bvh"
dest=$(cd "$dest" && pwd)
if [ -s "$dest/vtest.avi" ] && ls "$dest"/bvh/*.bvh >/dev/null 2>&1; then
  echo "sample data already in $dest"; exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "apt-get not found: on a non-Debian system, pass your own video with --video instead" >&2; exit 1
fi
echo "downloading Debian's opencv-doc (96 MB: vtest.avi) and assimp-testmodels (21 MB: BVH files) with apt-get download" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download opencv-doc assimp-testmodels >/dev/null 2>&1) || {
  echo "apt-get download failed; try 'sudo apt-get update' first" >&2; exit 1; }
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
cp "$work/root/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dest/vtest.avi.part"
mv "$dest/vtest.avi.part" "$dest/vtest.avi"
cp "$work"/root/usr/share/assimp/models/BVH/*.bvh "$dest/bvh/"
echo "sample data in $dest: vtest.avi and $(ls "$dest"/bvh/*.bvh | wc -l) BVH files"
