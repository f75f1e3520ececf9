#!/usr/bin/env bash
# setup-ort.sh fetches the ONNX Runtime shared library from the npm package
# onnxruntime-node (pinned version and sha256), and keeps it in .cache/ort.
# Idempotent: a cached library with the right checksum is left alone.
set -euo pipefail
ORT_VERSION="${ORT_VERSION:-1.30.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${CROSSRANK_CACHE:-$ROOT/.cache}/ort"
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64)  MEMBER="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"; LIB=libonnxruntime.so.1
                 SHA=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23 ;;
  Linux/aarch64) MEMBER="package/bin/napi-v6/linux/arm64/libonnxruntime.so.1"; LIB=libonnxruntime.so.1; SHA="" ;;
  Darwin/arm64)  MEMBER="package/bin/napi-v6/darwin/arm64/libonnxruntime.1.${ORT_VERSION}.dylib"; LIB=libonnxruntime.dylib; SHA="" ;;
  *) echo "setup-ort: unsupported platform $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
TGZ_SHA=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
mkdir -p "$DEST"
# The pinned checksums are for ORT_VERSION=1.30.0; another version is checked
# only when its checksum is given in ORT_SHA256.
[ "$ORT_VERSION" = 1.30.0 ] || SHA="${ORT_SHA256:-}"
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }
check() { [ -z "$SHA" ] || [ "$(sha256 "$1")" = "$SHA" ]; }
if [ -f "$DEST/$LIB" ] && check "$DEST/$LIB"; then
  echo "setup-ort: $DEST/$LIB ok (onnxruntime-node@$ORT_VERSION)"; exit 0
fi
command -v npm >/dev/null || { echo "setup-ort: npm is required (apt-get install npm)" >&2; exit 1; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
TGZ="$TMP/onnxruntime-node-$ORT_VERSION.tgz"
if [ "$ORT_VERSION" = 1.30.0 ]; then
  [ "$(sha256 "$TGZ")" = "$TGZ_SHA" ] || { echo "setup-ort: tarball checksum mismatch" >&2; exit 1; }
fi
tar -xzf "$TGZ" -C "$TMP" "$MEMBER"
check "$TMP/$MEMBER" || { echo "setup-ort: $MEMBER checksum mismatch" >&2; exit 1; }
install -m 0644 "$TMP/$MEMBER" "$DEST/$LIB.tmp" && mv "$DEST/$LIB.tmp" "$DEST/$LIB"
echo "setup-ort: installed $DEST/$LIB (onnxruntime-node@$ORT_VERSION)"
