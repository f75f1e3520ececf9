#!/usr/bin/env bash
# run_peers.sh — `make bench-peers`: score the same requests with the crossrank
# sidecar and with its peers (transformers.js; sentence-transformers
# CrossEncoder on PyTorch CPU; sentence-transformers with its ONNX backend),
# on the same twin weights and thread count, one request at a time, and write
# a ratio table (medians over rounds of p50/p95/pairs/s) to
# $PEERS_OUT/report.md. PyTorch's logits
# are checked against the sidecar's (TEI /rerank raw scores) within 1e-4.
#
# Environment: PEERS_OUT (default out/peers), PEERS_REQUESTS (50),
# PEERS_BATCH (32), PEERS_THREADS (2), PEERS_PORT (18089), PEERS_ONLY
# (space-separated subset of: tjs torch onnx), PEERS_CONCURRENCY (sidecar
# concurrencies, "1,4"; the peers run one request at a time), PEERS_WORKERS
# (sidecar workers sharing the PEERS_THREADS threads, 2), PEERS_ROUNDS (3:
# every contestant runs once per round; the report takes medians).
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
ONLY=${PEERS_ONLY:-tjs torch onnx}
CONC=${PEERS_CONCURRENCY:-1,4}
ROUNDS=${PEERS_ROUNDS:-3}
TARGET=http://127.0.0.1:$PORT

for f in "$BIN" "$TWIN/onnx/model.onnx" "$TWIN/model.safetensors" "$VENV/bin/python" \
	"$ROOT/tools/node/node_modules/@huggingface/transformers/package.json"; do
	[[ -e $f ]] || { echo "run_peers: $f missing (run make setup build, and make bench-peers installs the venv)" >&2; exit 1; }
done
mkdir -p "$OUT"
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
trap 'kill $SERVE 2>/dev/null || true; wait $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
	curl -fsS "$TARGET/ready" >/dev/null 2>&1 && break
	kill -0 $SERVE 2>/dev/null || { cat "$OUT/serve.log" >&2; exit 1; }
	sleep 0.5
done

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
		*) echo "run_peers: unknown peer $p" >&2; exit 2 ;;
		esac
	done
	echo "== round $r: crossrank sidecar"
	"$BIN" bench --target "$TARGET" --corpus "$OUT/requests.jsonl" --batch "$BATCH" --requests "$N" \
		--sweep "concurrency=$CONC" --warmup 2 --quiet --name "crossrank (peers run, round $r)" --report "$RD/crossrank"
done

logits=()
[[ -f $OUT/torch_logits.jsonl ]] && logits=(--target "$TARGET" --torch-logits "$OUT/torch_logits.jsonl")
"$VENV/bin/python" "$ROOT/scripts/peers/peers_report.py" --out "$OUT" "${rounds[@]}" "${logits[@]}"
