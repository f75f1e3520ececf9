#!/usr/bin/env bash
# stop.sh stops the OpenSearch that start.sh started in a run folder
# (argument, or $OPENSEARCH_RUN_DIR, or .cache/opensearch/run): SIGTERM, then
# SIGKILL after 30 s. Quiet success when nothing runs there.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEFAULT_RUN="${CROSSRANK_CACHE:-$ROOT/.cache}/opensearch/run"
[ "${OPENSEARCH_VERSION:-2.19.6}" = 2.19.6 ] || DEFAULT_RUN="$DEFAULT_RUN-$OPENSEARCH_VERSION"
RUN="${1:-${OPENSEARCH_RUN_DIR:-$DEFAULT_RUN}}"
[ -f "$RUN/pid" ] || exit 0
PID="$(cat "$RUN/pid")"
if kill -0 "$PID" 2>/dev/null; then
  kill "$PID"
  for _ in $(seq 1 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
fi
rm -f "$RUN/pid"
