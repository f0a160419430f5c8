#!/usr/bin/env bash
# Software GPU for the WebGPU tests: Mesa 25's lavapipe Vulkan driver from Debian bookworm-backports,
# extracted (dpkg -x, no root, no change to the system) into a private folder, default .lavapipe/ in
# the repository root. Debian 12's own Mesa 22 cannot host ONNX Runtime's WebGPU adapter ("Vulkan
# shaderUniform*ArrayDynamicIndexing required"); 25.0.7 can (ENGINE-NOTES §8.3).
#
#   scripts/install-lavapipe.sh [folder]
#
# Downloads with apt-get through a private sources list (the same Debian mirror as the system's
# debian.sources) and private state folders, so it needs no root. Writes <folder>/lvp.json (the ICD
# with an absolute library path) and <folder>/env.sh. The tests (vitest.config.ts) pick the folder
# up by themselves; other programs: `. <folder>/env.sh` before starting Node.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$(realpath -m "${1:-$ROOT/.lavapipe}")"
MIRROR="http://deb.debian.org/debian"
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  # first URIs line of the system's deb822 source (the main Debian archive)
  MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
fi
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || { echo "install-lavapipe: $KEYRING missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

APT="$DEST/apt"
rm -rf "$DEST"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DEST/debs" "$DEST/root"
cat >"$APT/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR bookworm-backports main
deb [signed-by=$KEYRING] $MIRROR bookworm main
EOF
OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Dir::State::status=/dev/null
  -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
apt-get "${OPTS[@]}" update -qq
# libvulkan1 is the Vulkan loader that ONNX Runtime's WebGPU (Dawn) opens; the other three are the
# driver and the libdrm it was built against (>= 2.4.121; Debian 12 has 2.4.114).
(cd "$DEST/debs" && apt-get "${OPTS[@]}" download -qq mesa-vulkan-drivers/bookworm-backports \
  libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libvulkan1)
for deb in "$DEST"/debs/*.deb; do dpkg -x "$deb" "$DEST/root"; done
LIB="$DEST/root/usr/lib/x86_64-linux-gnu"
[ -f "$LIB/libvulkan_lvp.so" ] || { echo "install-lavapipe: libvulkan_lvp.so not in the package" >&2; exit 1; }
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIB/libvulkan_lvp.so\"#" \
  "$DEST/root/usr/share/vulkan/icd.d/lvp_icd.json" >"$DEST/lvp.json"
cat >"$DEST/env.sh" <<EOF
export VK_DRIVER_FILES="$DEST/lvp.json"
export LD_LIBRARY_PATH="$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR="\${XDG_RUNTIME_DIR:-/tmp}"
EOF
missing="$(LD_LIBRARY_PATH="$LIB" ldd "$LIB/libvulkan_lvp.so" | grep 'not found' || true)"
if [ -n "$missing" ]; then
  echo "install-lavapipe: libraries lavapipe needs are missing on this system:" >&2
  echo "$missing" >&2
  exit 1
fi
VERSION="$(dpkg-deb -f "$DEST"/debs/mesa-vulkan-drivers_*.deb Version)"
rm -rf "$APT" "$DEST/debs"
echo "lavapipe (mesa-vulkan-drivers $VERSION) installed in $DEST"
