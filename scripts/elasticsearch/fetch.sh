#!/usr/bin/env bash
# fetch.sh installs a runnable Elasticsearch into .cache/elasticsearch/ from
# Maven Central (through mvn, so a configured mirror is honoured): the
# integ-test distribution (modules transport-netty4, x-pack-core,
# x-pack-security, apm; no bundled JDK, no painless, no inference), pinned by
# sha256. Idempotent: a complete install (stamp file) is left alone.
#
#   scripts/elasticsearch/fetch.sh     # install, print the home folder
set -euo pipefail
VERSION=8.19.21
SHA=215d5f3dbf0609a149f6218a9e47b6ae2df34ebbff3c5754e35f15a5e5393c8a
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${CROSSRANK_CACHE:-$ROOT/.cache}/elasticsearch"
HOME_DIR="$CACHE/elasticsearch-$VERSION"
DL="$CACHE/dl"
STAMP="$HOME_DIR/.crossrank-stamp"

if [ -f "$STAMP" ]; then echo "$HOME_DIR"; exit 0; fi
command -v mvn >/dev/null || { echo "elasticsearch/fetch: mvn is required (apt-get install maven)" >&2; exit 1; }
mkdir -p "$DL"
file="$DL/elasticsearch-$VERSION.zip"
if ! { [ -f "$file" ] && echo "$SHA  $file" | sha256sum -c --status; }; then
  echo "elasticsearch/fetch: downloading org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" >&2
  mvn -q -B dependency:copy -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" \
    -DoutputDirectory="$DL" -Dmdep.overWriteReleases=true >/dev/null \
    || { echo "elasticsearch/fetch: mvn could not fetch the Elasticsearch $VERSION integ-test zip" >&2; exit 1; }
  echo "$SHA  $file" | sha256sum -c --status \
    || { echo "elasticsearch/fetch: checksum mismatch for $file (want $SHA, got $(sha256sum "$file" | cut -d' ' -f1))" >&2; exit 1; }
fi
rm -rf "$HOME_DIR" "$HOME_DIR.tmp"
mkdir -p "$HOME_DIR.tmp"
unzip -q "$file" -d "$HOME_DIR.tmp"
mv "$HOME_DIR.tmp/elasticsearch-$VERSION" "$HOME_DIR" && rmdir "$HOME_DIR.tmp"
touch "$STAMP"
echo "$HOME_DIR"
