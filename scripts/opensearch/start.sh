#!/usr/bin/env bash
# start.sh starts the OpenSearch installed by fetch.sh: single node, loopback
# only, security off (the integ-test distribution has no security plugin), a
# small heap, a free port, data and logs in a run folder. It waits for the
# cluster to be yellow or green, then prints the base URL on stdout. A node
# already answering from the same run folder is left running and its URL
# printed again.
#
#   make opensearch-start                                    # → http://127.0.0.1:9200
#   OPENSEARCH_RUN_DIR=/tmp/os scripts/opensearch/start.sh   # → http://127.0.0.1:PORT
#   scripts/opensearch/stop.sh /tmp/os
#
# Environment: OPENSEARCH_VERSION (2.19.6 or 3.6.0, each with its ML
# plugins; see fetch.sh), OPENSEARCH_RUN_DIR (default
# .cache/opensearch/run, or run-VERSION for another version),
# OPENSEARCH_PORT (default: a free port), OPENSEARCH_HEAP (default 512m),
# OPENSEARCH_START_TIMEOUT seconds (default 600), OPENSEARCH_JAVA_HOME
# (default: JAVA_HOME or the java on PATH; for 3.x, which needs Java 21+, the
# newest JDK in /usr/lib/jvm when that one is older).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="$("$ROOT/scripts/opensearch/fetch.sh")"
VERSION="${OPENSEARCH_VERSION:-2.19.6}"
DEFAULT_RUN="${CROSSRANK_CACHE:-$ROOT/.cache}/opensearch/run"
[ "$VERSION" = 2.19.6 ] || DEFAULT_RUN="$DEFAULT_RUN-$VERSION"
RUN="${OPENSEARCH_RUN_DIR:-$DEFAULT_RUN}"
HEAP="${OPENSEARCH_HEAP:-512m}"
TIMEOUT="${OPENSEARCH_START_TIMEOUT:-600}"
java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if [ -z "${OPENSEARCH_JAVA_HOME:-}" ]; then
  command -v java >/dev/null || { echo "opensearch/start: a JDK is required" >&2; exit 1; }
  OPENSEARCH_JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
  if [ "${VERSION%%.*}" -ge 3 ] && [ "$(java_major "$OPENSEARCH_JAVA_HOME")" -lt 21 ]; then
    for j in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
      if [ -x "$j/bin/java" ] && [ "$(java_major "${j%/}")" -ge 21 ]; then OPENSEARCH_JAVA_HOME="${j%/}"; break; fi
    done
  fi
fi
if [ "${VERSION%%.*}" -ge 3 ] && [ "$(java_major "$OPENSEARCH_JAVA_HOME")" -lt 21 ]; then
  echo "opensearch/start: OpenSearch $VERSION needs Java 21+; set OPENSEARCH_JAVA_HOME (found $OPENSEARCH_JAVA_HOME)" >&2; exit 1
fi
export OPENSEARCH_JAVA_HOME

healthy() { # healthy URL → 0 when the node answers yellow or green
  local health
  health="$(curl -fsS "$1/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null)" || return 1
  case "$health" in *'"status":"green"'*|*'"status":"yellow"'*) return 0 ;; esac
  return 1
}
if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  if [ -f "$RUN/url" ] && healthy "$(cat "$RUN/url")"; then
    echo "opensearch/start: already running (pid $(cat "$RUN/pid")); stop it with scripts/opensearch/stop.sh $RUN" >&2
    cat "$RUN/url"; exit 0
  fi
  echo "opensearch/start: pid $(cat "$RUN/pid") from $RUN runs but does not answer; stop it with scripts/opensearch/stop.sh $RUN" >&2
  exit 1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="${OPENSEARCH_PORT:-$(free_port)}"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "opensearch/start: something already answers on 127.0.0.1:$PORT (set OPENSEARCH_PORT to another port)" >&2; exit 1
fi
TPORT="$(free_port)"
mkdir -p "$RUN/data" "$RUN/logs" "$RUN/tmp"
# The node reads its own config folder: a private copy keeps runs apart.
rm -rf "$RUN/config" && cp -r "$HOME_DIR/config" "$RUN/config"
cat >"$RUN/config/opensearch.yml" <<YML
cluster.name: crossrank-it
node.name: it-0
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
discovery.type: single-node
path.data: $RUN/data
path.logs: $RUN/logs
action.auto_create_index: true
# tiny machines: no disk-watermark read-only surprises
cluster.routing.allocation.disk.threshold_enabled: false
YML
# (settings of a plugin that is not installed would stop the node)
if [ -d "$HOME_DIR/plugins/opensearch-ml" ]; then cat >>"$RUN/config/opensearch.yml" <<YML
# ml-commons: let a data node run remote models and call a loopback endpoint
plugins.ml_commons.only_run_on_ml_node: false
plugins.ml_commons.connector.private_ip_enabled: true
plugins.ml_commons.trusted_connector_endpoints_regex: ["^http://127\\\\.0\\\\.0\\\\.1:[0-9]+/.*$"]
plugins.ml_commons.native_memory_threshold: 100
plugins.ml_commons.jvm_heap_memory_threshold: 100
plugins.ml_commons.disk_free_space_threshold: -1
YML
fi
sed -i -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" -e "s#logs/#$RUN/logs/#g" -e "s#HeapDumpPath=data#HeapDumpPath=$RUN/data#" "$RUN/config/jvm.options"
export OPENSEARCH_PATH_CONF="$RUN/config"
export OPENSEARCH_TMPDIR="$RUN/tmp"
export OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP ${OPENSEARCH_JAVA_OPTS:-}"
rm -f "$RUN/pid"
# OpenSearch refuses to run as root (CI runs as root): drop to nobody there.
AS=()
if [ "$(id -u)" = 0 ]; then
  chown -R nobody:nogroup "$RUN"
  AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  "${AS[@]}" test -w "$RUN/data" -a -r "$HOME_DIR/bin/opensearch" || {
    echo "opensearch/start: user nobody cannot reach $RUN or $HOME_DIR (a parent folder is private?)" >&2; exit 1; }
fi
# Foreground process in the background: $! is the JVM (the launcher execs it),
# so a node that dies during start-up is noticed at once.
cd "$RUN"  # jvm.options writes gc and error logs under ./logs
nohup "${AS[@]}" env HOME="$RUN" "$HOME_DIR/bin/opensearch" >"$RUN/logs/stdout.log" 2>&1 </dev/null &
echo $! >"$RUN/pid"
URL="http://127.0.0.1:$PORT"
echo "$URL" >"$RUN/url"
deadline=$((SECONDS + TIMEOUT))
until healthy "$URL"; do
  if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    tail -30 "$RUN/logs/stdout.log" >&2 2>/dev/null || true
    echo "opensearch/start: the node exited during start-up (logs in $RUN/logs)" >&2; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    "$ROOT/scripts/opensearch/stop.sh" "$RUN" >&2 || true
    echo "opensearch/start: not healthy after ${TIMEOUT}s (logs in $RUN/logs)" >&2; exit 1
  fi
  sleep 1
done
echo "$URL"
