#!/usr/bin/env bash
# stop.sh stops the Elasticsearch that start.sh started in a run folder
# (argument, or $ELASTICSEARCH_RUN_DIR, or .cache/elasticsearch/run): SIGTERM,
# then SIGKILL after 30 s. Quiet success when nothing runs there.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUN="${1:-${ELASTICSEARCH_RUN_DIR:-${CROSSRANK_CACHE:-$ROOT/.cache}/elasticsearch/run}}"
[ -f "$RUN/pid" ] || exit 0
PID="$(cat "$RUN/pid")"
if kill -0 "$PID" 2>/dev/null; then
  kill "$PID"
  for _ in $(seq 1 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
fi
rm -f "$RUN/pid"
