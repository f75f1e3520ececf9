#!/usr/bin/env bash
# run_peers.sh — `make bench-peers`: score the same requests with the crossrank
# sidecar and with its peers (transformers.js; sentence-transformers
# CrossEncoder on PyTorch CPU; sentence-transformers with its ONNX backend,
# each in process, one request at a time; Infinity's HTTP server with its
# torch engine, driven by the same crossrank bench client and concurrencies
# as the sidecar), on the same twin weights and thread count, and write a
# ratio table (medians over rounds of p50/p95/pairs/s) to
# $PEERS_OUT/report.md. PyTorch's logits and Infinity's raw scores are
# checked against the sidecar's (TEI /rerank raw scores) within 1e-4, and
# Infinity's optimum engine, which drops token_type_ids, must fail that check.
#
# Environment: PEERS_OUT (default out/peers), PEERS_REQUESTS (50),
# PEERS_BATCH (32), PEERS_THREADS (2), PEERS_PORT (18089; Infinity listens on
# PEERS_PORT+1), PEERS_ONLY (space-separated subset of: tjs torch onnx
# infinity), PEERS_CONCURRENCY (sidecar and Infinity concurrencies, "1,4";
# the in-process peers run one request at a time), PEERS_WORKERS (sidecar
# workers sharing the PEERS_THREADS threads, 2), PEERS_ROUNDS (3: every
# contestant runs once per round; the report takes medians),
# PEERS_INFINITY_OPTIMUM (1: also start Infinity's optimum engine once, as the
# score check's negative control; 0 skips it), INFINITY_VENV
# (.cache/venv-infinity).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin/crossrank}
TWIN=${TWIN:-$ROOT/.cache/models/twin}
VENV=${VENV:-$ROOT/.cache/venv-peers}
OUT=${PEERS_OUT:-$ROOT/out/peers}
N=${PEERS_REQUESTS:-50}
BATCH=${PEERS_BATCH:-32}
THREADS=${PEERS_THREADS:-2}
PORT=${PEERS_PORT:-18089}
ONLY=${PEERS_ONLY:-tjs torch onnx infinity}
INFINITY_VENV=${INFINITY_VENV:-$ROOT/.cache/venv-infinity}
IPORT=$(( PORT + 1 ))
ITARGET=http://127.0.0.1:$IPORT
IOPTIMUM=${PEERS_INFINITY_OPTIMUM:-1}
CONC=${PEERS_CONCURRENCY:-1,4}
ROUNDS=${PEERS_ROUNDS:-3}
TARGET=http://127.0.0.1:$PORT

for f in "$BIN" "$TWIN/onnx/model.onnx" "$TWIN/model.safetensors" "$VENV/bin/python" \
	"$ROOT/tools/node/node_modules/@huggingface/transformers/package.json"; do
	[[ -e $f ]] || { echo "run_peers: $f missing (run make setup build, and make bench-peers installs the venv)" >&2; exit 1; }
done
if [[ " $ONLY " == *" infinity "* ]]; then
	[[ -x $INFINITY_VENV/bin/infinity_emb ]] || { echo "run_peers: $INFINITY_VENV/bin/infinity_emb missing (make venv-infinity)" >&2; exit 1; }
	IVER=$("$INFINITY_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("infinity_emb"))')
fi
TWIN=$(cd "$TWIN" && pwd)  # absolute: the optimum engine's view links to it
mkdir -p "$OUT"
# Nothing of an earlier run may stand in for this one's.
rm -rf "$OUT"/round[0-9]* "$OUT"/torch_logits.jsonl "$OUT"/infinity_scores.jsonl "$OUT"/infinity_optimum_scores.jsonl
echo "== requests: $N x $BATCH pairs, $THREADS threads -> $OUT"
"$BIN" bench --write-requests "$OUT/requests.jsonl" --synthetic --seed 42 --requests "$N" --batch "$BATCH"

# The sidecar: $THREADS threads in all, like each peer, split as the
# sidecar's defaults split them (PEERS_WORKERS workers of
# THREADS/PEERS_WORKERS intra-op threads; 2 x 1 measured fastest here); no
# score cache. It idles while the peers run.
WORKERS=${PEERS_WORKERS:-2}
PER=$(( THREADS / WORKERS )); (( PER >= 1 )) || PER=1
"$BIN" serve --model "$TWIN" --addr "127.0.0.1:$PORT" --threads "$PER" --workers "$WORKERS" --cache-size 0 \
	>"$OUT/serve.log" 2>&1 &
SERVE=$!
INF=
trap 'kill $SERVE $INF 2>/dev/null || true; wait $SERVE $INF 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
	curl -fsS "$TARGET/ready" >/dev/null 2>&1 && break
	kill -0 $SERVE 2>/dev/null || { cat "$OUT/serve.log" >&2; exit 1; }
	sleep 0.5
done

# Infinity as its CLI serves it (`infinity_emb v2`), on the twin folder:
# the torch engine loads model.safetensors through sentence-transformers'
# CrossEncoder, the optimum engine loads onnx/model.onnx through optimum's
# ORTModelForSequenceClassification (--onnx-disable-optimize: its optimiser
# would write an optimised copy into the shared twin folder). Infinity 0.0.78
# hands optimum a local graph's full path where optimum wants a file name,
# which optimum rejects when the folder holds one .onnx file, so the optimum
# engine gets a view of the twin ($OUT/twin-optimum: links to its files, the
# graph linked twice, so two .onnx files, both the twin's). Its threads:
# OMP/MKL_NUM_THREADS bound PyTorch's intra-op pool (Infinity has no thread
# flag; torch reads them at start), RAYON_NUM_THREADS the tokenizer's pool.
# Telemetry off, Hugging Face offline. It is started for its slot of each
# round and stopped after, so it never idles beside another contestant.
# usage: start_infinity ENGINE LOG
start_infinity() {
	local extra=() model=$TWIN f
	if [[ $1 == optimum ]]; then
		extra=(--onnx-disable-optimize)
		model=$OUT/twin-optimum
		rm -rf "$model" && mkdir -p "$model/onnx"
		for f in "$TWIN"/*; do [[ -f $f ]] && ln -s "$f" "$model/"; done
		ln -s "$TWIN/onnx/model.onnx" "$model/onnx/model.onnx"
		ln -s "$TWIN/onnx/model.onnx" "$model/model.onnx"
	fi
	OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS RAYON_NUM_THREADS=$THREADS \
		HF_HUB_OFFLINE=1 HF_HOME="$OUT/hf-home" INFINITY_ANONYMOUS_USAGE_STATS=0 DO_NOT_TRACK=1 \
		"$INFINITY_VENV/bin/infinity_emb" v2 --model-id "$model" --served-model-name twin --engine "$1" \
		--device cpu --host 127.0.0.1 --port "$IPORT" --url-prefix /v1 --no-model-warmup "${extra[@]}" >"$2" 2>&1 &
	INF=$!
	for _ in $(seq 1 600); do
		curl -fsS "$ITARGET/health" >/dev/null 2>&1 && return 0
		kill -0 $INF 2>/dev/null || { echo "run_peers: Infinity ($1) exited:" >&2; tail -40 "$2" >&2; INF=; return 1; }
		sleep 0.5
	done
	echo "run_peers: Infinity ($1) not healthy after 300 s:" >&2; tail -40 "$2" >&2
	return 1
}
stop_infinity() {
	[[ -n $INF ]] || return 0
	kill "$INF" 2>/dev/null || true
	wait "$INF" 2>/dev/null || true
	INF=
}

# Each round runs every peer and then the sidecar on the same requests, so a
# slow spell of a shared machine hits one round rather than one contestant;
# the report takes medians over the rounds.
rounds=()
for r in $(seq 1 "$ROUNDS"); do
	RD=$OUT/round$r
	mkdir -p "$RD"
	rounds+=(--round "$RD")
	for p in $ONLY; do
		case $p in
		tjs)
			echo "== round $r: transformers.js"
			node "$ROOT/scripts/peers/tjs_peer.mjs" --model "$TWIN" --requests "$OUT/requests.jsonl" \
				--out "$RD/tjs.json" --threads "$THREADS"
			;;
		torch)
			echo "== round $r: sentence-transformers (PyTorch CPU)"
			"$VENV/bin/python" "$ROOT/scripts/peers/st_peer.py" --backend torch --model "$TWIN" \
				--requests "$OUT/requests.jsonl" --out "$RD/st_torch.json" --threads "$THREADS" \
				--logits-pairs "$OUT/torch_logits.jsonl"
			;;
		onnx)
			echo "== round $r: sentence-transformers (ONNX backend)"
			"$VENV/bin/python" "$ROOT/scripts/peers/st_peer.py" --backend onnx --model "$TWIN" \
				--requests "$OUT/requests.jsonl" --out "$RD/st_onnx.json" --threads "$THREADS"
			;;
		infinity)
			echo "== round $r: Infinity $IVER (torch engine, HTTP)"
			start_infinity torch "$RD/infinity.log"
			"$BIN" bench --target "$ITARGET" --model-name twin --corpus "$OUT/requests.jsonl" --batch "$BATCH" \
				--requests "$N" --sweep "concurrency=$CONC" --warmup 2 --quiet \
				--name "Infinity $IVER (torch engine, HTTP)" --report "$RD/infinity"
			# Its raw scores for the check, once, one request per query.
			[[ -f $OUT/infinity_scores.jsonl ]] || "$VENV/bin/python" "$ROOT/scripts/peers/http_scores.py" \
				--target "$ITARGET" --model twin --requests "$OUT/requests.jsonl" --n 4 --out "$OUT/infinity_scores.jsonl"
			stop_infinity
			;;
		*) echo "run_peers: unknown peer $p" >&2; exit 2 ;;
		esac
	done
	echo "== round $r: crossrank sidecar"
	"$BIN" bench --target "$TARGET" --corpus "$OUT/requests.jsonl" --batch "$BATCH" --requests "$N" \
		--sweep "concurrency=$CONC" --warmup 2 --quiet --name "crossrank (peers run, round $r)" --report "$RD/crossrank"
done

# The negative control: Infinity's optimum engine on the same weights (its
# ONNX graph) scores without token_type_ids, which the check must reject.
if [[ " $ONLY " == *" infinity "* && $IOPTIMUM == 1 ]]; then
	echo "== Infinity $IVER (optimum engine): scores for the check's negative control"
	start_infinity optimum "$OUT/infinity-optimum.log"
	"$VENV/bin/python" "$ROOT/scripts/peers/http_scores.py" --target "$ITARGET" --model twin \
		--requests "$OUT/requests.jsonl" --n 4 --out "$OUT/infinity_optimum_scores.jsonl"
	stop_infinity
fi

checks=(--target "$TARGET")
[[ -f $OUT/torch_logits.jsonl ]] && checks+=(--check "PyTorch logits=$OUT/torch_logits.jsonl")
[[ -f $OUT/infinity_scores.jsonl ]] && checks+=(--check "Infinity $IVER (torch engine) raw scores=$OUT/infinity_scores.jsonl")
[[ -f $OUT/infinity_optimum_scores.jsonl ]] && checks+=(--negative \
	"Infinity $IVER (optimum engine, drops token_type_ids) raw scores=$OUT/infinity_optimum_scores.jsonl")
"$VENV/bin/python" "$ROOT/scripts/peers/peers_report.py" --out "$OUT" "${rounds[@]}" "${checks[@]}"
