#!/usr/bin/env bash
# start.sh starts the Elasticsearch installed by fetch.sh: single node,
# loopback only, security on (user "elastic", its bootstrap password in the
# node's keystore, HTTP without TLS), a small heap, data and logs in a run
# folder. It waits for the cluster to be yellow or green, then prints the
# base URL on stdout. A node already answering from the same run folder is
# left running and its URL printed again.
#
#   make elasticsearch-start          # http://127.0.0.1:9201, elastic:crossrank-dev
#   ELASTICSEARCH_RUN_DIR=/tmp/es scripts/elasticsearch/start.sh   # free port
#   scripts/elasticsearch/stop.sh /tmp/es
#
# Environment: ELASTICSEARCH_RUN_DIR (default .cache/elasticsearch/run),
# ELASTICSEARCH_PORT (default: a free port), ELASTICSEARCH_PASSWORD (the
# elastic user's password, default crossrank-dev), ELASTICSEARCH_HEAP
# (default 512m), ELASTICSEARCH_START_TIMEOUT seconds (default 600),
# ES_JAVA_HOME (default: JAVA_HOME, else the java on PATH; 17 or newer).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="$("$ROOT/scripts/elasticsearch/fetch.sh")"
RUN="${ELASTICSEARCH_RUN_DIR:-${CROSSRANK_CACHE:-$ROOT/.cache}/elasticsearch/run}"
HEAP="${ELASTICSEARCH_HEAP:-512m}"
TIMEOUT="${ELASTICSEARCH_START_TIMEOUT:-600}"
PASSWORD="${ELASTICSEARCH_PASSWORD:-crossrank-dev}"
if [ -z "${ES_JAVA_HOME:-}" ]; then
  command -v java >/dev/null || { echo "elasticsearch/start: a JDK (17+) is required" >&2; exit 1; }
  ES_JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
fi
export ES_JAVA_HOME

healthy() { # healthy URL → 0 when the node answers yellow or green
  local health
  health="$(curl -sS -u "elastic:$PASSWORD" "$1/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null)" || return 1
  case "$health" in *'"status":"green"'*|*'"status":"yellow"'*) return 0 ;; esac
  return 1
}
if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
  if [ -f "$RUN/url" ] && healthy "$(cat "$RUN/url")"; then
    echo "elasticsearch/start: already running (pid $(cat "$RUN/pid")); stop it with scripts/elasticsearch/stop.sh $RUN" >&2
    cat "$RUN/url"; exit 0
  fi
  echo "elasticsearch/start: pid $(cat "$RUN/pid") from $RUN runs but does not answer; stop it with scripts/elasticsearch/stop.sh $RUN" >&2
  exit 1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="${ELASTICSEARCH_PORT:-$(free_port)}"
TPORT="$(free_port)"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "elasticsearch/start: something already answers on 127.0.0.1:$PORT (set ELASTICSEARCH_PORT to another port)" >&2; exit 1
fi
mkdir -p "$RUN/data" "$RUN/logs" "$RUN/tmp"
# The node reads its own config folder: a private copy keeps runs apart.
rm -rf "$RUN/config" && cp -r "$HOME_DIR/config" "$RUN/config"
cat >"$RUN/config/elasticsearch.yml" <<YML
cluster.name: crossrank-it
node.name: es-0
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
discovery.type: single-node
path.data: $RUN/data
path.logs: $RUN/logs
action.auto_create_index: true
cluster.routing.allocation.disk.threshold_enabled: false
xpack.security.enabled: true
xpack.security.autoconfiguration.enabled: false
xpack.security.http.ssl.enabled: false
xpack.security.transport.ssl.enabled: false
xpack.security.enrollment.enabled: false
YML
export ES_PATH_CONF="$RUN/config"
export ES_TMPDIR="$RUN/tmp"
export ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP ${ES_JAVA_OPTS:-}"
# The elastic user's bootstrap password, in the node's keystore.
"$HOME_DIR/bin/elasticsearch-keystore" create >/dev/null 2>&1 || true
printf '%s' "$PASSWORD" | "$HOME_DIR/bin/elasticsearch-keystore" add -x -f bootstrap.password >/dev/null
rm -f "$RUN/pid"
# Elasticsearch refuses to run as root (CI runs as root): drop to nobody there.
AS=()
if [ "$(id -u)" = 0 ]; then
  chown -R nobody:nogroup "$RUN"
  AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  "${AS[@]}" test -w "$RUN/data" -a -r "$HOME_DIR/bin/elasticsearch" || {
    echo "elasticsearch/start: user nobody cannot reach $RUN or $HOME_DIR (a parent folder is private?)" >&2; exit 1; }
fi
cd "$RUN/logs"  # jvm.options writes gc and error logs in the working folder
nohup "${AS[@]}" env HOME="$RUN" "$HOME_DIR/bin/elasticsearch" >"$RUN/logs/stdout.log" 2>&1 </dev/null &
echo $! >"$RUN/pid"
URL="http://127.0.0.1:$PORT"
echo "$URL" >"$RUN/url"
deadline=$((SECONDS + TIMEOUT))
until healthy "$URL"; do
  if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    tail -30 "$RUN/logs/stdout.log" >&2 2>/dev/null || true
    echo "elasticsearch/start: the node exited during start-up (logs in $RUN/logs)" >&2; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    "$ROOT/scripts/elasticsearch/stop.sh" "$RUN" >&2 || true
    echo "elasticsearch/start: not healthy after ${TIMEOUT}s (logs in $RUN/logs)" >&2; exit 1
  fi
  sleep 1
done
echo "$URL"
