#!/usr/bin/env bash
# fetch.sh installs a runnable OpenSearch into .cache/opensearch/ from Maven
# Central (through mvn, so a configured mirror is honoured): the integ-test
# distribution, the lang-painless module assembled from its published jars
# (the integ-test zip ships only transport-netty4), and the plugins that hold
# the ML connectors (ml-commons + job-scheduler) and the rerank processor
# (neural-search + k-NN, which it extends). Every file is pinned by sha256.
# Idempotent: a complete install (stamp file) is left alone.
#
#   scripts/opensearch/fetch.sh            # install, print the home folder
#   OPENSEARCH_PLUGINS=0 scripts/opensearch/fetch.sh   # engine only
#   OPENSEARCH_VERSION=3.6.0 scripts/opensearch/fetch.sh   # 3.x (Java 21+)
#
# 3.6.0's integ-test zip already holds lang-painless and transport-grpc
# (which k-NN extends) as modules; its four plugins are the 3.6.0.0 builds.
set -euo pipefail
VERSION="${OPENSEARCH_VERSION:-2.19.6}"
PVERSION=$VERSION.0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${CROSSRANK_CACHE:-$ROOT/.cache}/opensearch"
HOME_DIR="$CACHE/opensearch-$VERSION"
DL="$CACHE/dl"
PLUGINS="${OPENSEARCH_PLUGINS:-1}"
# sha256 of: the integ-test zip, job-scheduler, ml-plugin, knn, neural-search
case "$VERSION" in
  2.19.6) SHAS=(71d6d8b1c637f3faecda0752b184b1cc526fc6eaad59ec1408c6327bb00b9293
    c0172f2fb94c0819bbeb9bf21db694e26e285de4dddc9461759d0e0246c998e8 d0f4c2457ca5557d94ebd7c5e8d650b34326df54ad85851cc2eca0dd86e30d10
    c21b9565624d29fd4024e3a3902712349006cb7894a73c45d976756a761e628f b38b136b280a219d7f4495dd5d7e11e92a528b874fe940fc8502b8a5c599c820) ;;
  3.6.0) SHAS=(a91faa1dc1cadc78cb278b4f63847e19e1627a4e9de698e14e7efc14ee37b286
    f81d0aa9fc850b18f803292bd7ae68bd33561f6c1d12db0f68529d40eddcee24 c051d436fe1936da1477bb999db829eb2bc92b12989e376c300d0a874fb90f9d
    ac392ca28a39b3bf290648a422ef30cb149dda2963a9d7feb26060e932341c9a 6ef1b206e79391e2e36268e32dc34d27fd8b8a59a8eb0a7393c97d53b038e433) ;;
  *) echo "opensearch/fetch: OPENSEARCH_VERSION $VERSION is not pinned here (2.19.6 or 3.6.0)" >&2; exit 1 ;;
esac
STAMP="$HOME_DIR/.crossrank-stamp-plugins$PLUGINS"

if [ -f "$STAMP" ]; then echo "$HOME_DIR"; exit 0; fi
java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if [ -z "${OPENSEARCH_JAVA_HOME:-}" ]; then
  command -v java >/dev/null || { echo "opensearch/fetch: a JDK (17+; 21+ for 3.x) is required" >&2; exit 1; }
  OPENSEARCH_JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
  if [ "${VERSION%%.*}" -ge 3 ] && [ "$(java_major "$OPENSEARCH_JAVA_HOME")" -lt 21 ]; then
    for j in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
      if [ -x "$j/bin/java" ] && [ "$(java_major "${j%/}")" -ge 21 ]; then OPENSEARCH_JAVA_HOME="${j%/}"; break; fi
    done
  fi
fi
export OPENSEARCH_JAVA_HOME
command -v mvn >/dev/null || { echo "opensearch/fetch: mvn is required (apt-get install maven)" >&2; exit 1; }

# artifact (groupId:artifactId:version[:packaging]) → sha256 of the file
ARTIFACTS=(
  "org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip ${SHAS[0]}"
  "org.opensearch.plugin:lang-painless:$VERSION:jar e71e6c7ef99a6f5958cd0b25367acf472cc52cd49d29e13084c5ff0b5931f717"
  "org.opensearch.plugin:opensearch-scripting-painless-spi:$VERSION:jar 84e545b968151739f1915cfd2db24bf873edfd317d2848b87b61d0d60ec70869"
  "org.antlr:antlr4-runtime:4.13.1:jar 54665d2838cc66458343468efc539e454fc95b46a8a04b13c6ac43fc9be63505"
  "org.ow2.asm:asm:9.7:jar adf46d5e34940bdf148ecdd26a9ee8eea94496a72034ff7141066b3eea5c4e9d"
  "org.ow2.asm:asm-analysis:9.7:jar 7bc6bcbc21379948a0c8c467fb0f864206e5b818f6bc0b546872f5c9f941556f"
  "org.ow2.asm:asm-commons:9.7:jar 389bc247958e049fc9a0408d398c92c6d370c18035120395d4cba1d9d9304b7a"
  "org.ow2.asm:asm-tree:9.7:jar 62f4b3bc436045c1acb5c3ba2d8ec556ec3369093d7f5d06c747eb04b56d52b1"
  "org.ow2.asm:asm-util:9.7:jar 37a6414d36641973f1af104937c95d6d921b2ddb4d612c66c5a9f2b13fc14211"
)
PLUGIN_ARTIFACTS=(
  "org.opensearch.plugin:opensearch-job-scheduler:$PVERSION:zip ${SHAS[1]}"
  "org.opensearch.plugin:opensearch-ml-plugin:$PVERSION:zip ${SHAS[2]}"
  "org.opensearch.plugin:opensearch-knn:$PVERSION:zip ${SHAS[3]}"
  "org.opensearch.plugin:neural-search:$PVERSION:zip ${SHAS[4]}"
)
# 3.x ships lang-painless in its integ-test zip
[ "$VERSION" = 2.19.6 ] || ARTIFACTS=("${ARTIFACTS[0]}")

mkdir -p "$DL"
fetch() { # fetch G:A:V:P SHA → prints the local file
  local coord="$1" sha="$2" g a v p file
  IFS=: read -r g a v p <<<"$coord"
  file="$DL/$a-$v.$p"
  if ! { [ -f "$file" ] && echo "$sha  $file" | sha256sum -c --status; }; then
    echo "opensearch/fetch: downloading $coord" >&2
    mvn -q -B dependency:copy -Dartifact="$g:$a:$v:$p" -DoutputDirectory="$DL" -Dmdep.overWriteReleases=true >/dev/null \
      || { echo "opensearch/fetch: mvn could not fetch $coord" >&2; exit 1; }
    echo "$sha  $file" | sha256sum -c --status \
      || { echo "opensearch/fetch: checksum mismatch for $file (want $sha, got $(sha256sum "$file" | cut -d' ' -f1))" >&2; exit 1; }
  fi
  echo "$file"
}

declare -A FILES
for entry in "${ARTIFACTS[@]}"; do FILES["${entry%% *}"]="$(fetch ${entry})"; done
if [ "$PLUGINS" = 1 ]; then
  for entry in "${PLUGIN_ARTIFACTS[@]}"; do FILES["${entry%% *}"]="$(fetch ${entry})"; done
fi

rm -rf "$HOME_DIR" "$HOME_DIR.tmp"
mkdir -p "$HOME_DIR.tmp"
unzip -q "${FILES["org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip"]}" -d "$HOME_DIR.tmp"
mv "$HOME_DIR.tmp/opensearch-$VERSION" "$HOME_DIR" && rmdir "$HOME_DIR.tmp"

if [ "$VERSION" = 2.19.6 ]; then
# lang-painless as a module, the way the full distribution lays it out.
MOD="$HOME_DIR/modules/lang-painless"
mkdir -p "$MOD"
for entry in "${ARTIFACTS[@]:1}"; do cp "${FILES["${entry%% *}"]}" "$MOD/"; done
cat >"$MOD/plugin-descriptor.properties" <<DESC
description=An easy, safe and fast scripting language for OpenSearch
version=$VERSION
name=lang-painless
classname=org.opensearch.painless.PainlessPlugin
java.version=11
opensearch.version=$VERSION
extended.plugins=
has.native.controller=false
DESC
cat >"$MOD/plugin-security.policy" <<'POLICY'
grant {
  // painless compiles scripts to classes in its own loaders
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
POLICY
fi

if [ "$PLUGINS" = 1 ]; then
  for entry in "${PLUGIN_ARTIFACTS[@]}"; do
    "$HOME_DIR/bin/opensearch-plugin" install --batch "file://${FILES["${entry%% *}"]}" >"$CACHE/plugin-install-$VERSION.log" 2>&1 \
      || { cat "$CACHE/plugin-install-$VERSION.log" >&2; echo "opensearch/fetch: plugin install failed: ${entry%% *}" >&2; exit 1; }
  done
fi
touch "$STAMP"
echo "$HOME_DIR"
