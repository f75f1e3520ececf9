#!/usr/bin/env bash
# setup.sh creates the Elasticsearch (8.19+ / 9.1+) inference endpoint
# "crossrank" for the rerank task, pointing at the sidecar's /v1/rerank,
# from inference-endpoint.json. Then search with search-retriever.json.
#
# Idempotent: an endpoint that already exists is left alone (FORCE=1
# deletes and recreates it, e.g. after changing CROSSRANK_URL). Any engine
# error stops the script and prints the engine's answer.
#
# Environment (defaults in brackets):
#   ELASTICSEARCH_URL   [http://127.0.0.1:9201]
#   ELASTICSEARCH_CURL  extra curl options, e.g. "-u elastic:secret --cacert http_ca.crt"
#   CROSSRANK_URL       [http://crossrank:8080]  as Elasticsearch's nodes reach it
#   CROSSRANK_API_KEY   [none]                   sent as "Authorization: Bearer ..."
#   INFERENCE_ID        [crossrank]
#   FORCE=1             replace an existing endpoint
set -euo pipefail
cd "$(dirname "$0")"
ES="${ELASTICSEARCH_URL:-http://127.0.0.1:9201}"
CR="${CROSSRANK_URL:-http://crossrank:8080}"
ID="${INFERENCE_ID:-crossrank}"
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
# send METHOD PATH [BODY]: the answer's body, then its status on a line
send() {
  # shellcheck disable=SC2086
  curl -sS ${ELASTICSEARCH_CURL:-} -X "$1" "$ES$2" -H 'Content-Type: application/json' --data-binary "${3:-}" -w '\n%{http_code}'
}
# call METHOD PATH [BODY]: print the answer, fail with the engine's body on an error status
call() {
  local out code body
  out="$(send "$@")"
  code="${out##*$'\n'}" body="${out%$'\n'*}"
  if [ "$code" -ge 300 ]; then echo "setup.sh: $1 $2 → $code: $body" >&2; exit 1; fi
  printf '%s\n' "$body"
}
out="$(send GET "/_inference/rerank/$ID")"
code="${out##*$'\n'}"
case "$code" in
  200)
    if [ "${FORCE:-0}" != 1 ]; then
      echo "setup.sh: the inference endpoint $ID exists; left as it is (FORCE=1 replaces it)" >&2
      exit 0
    fi
    call DELETE "/_inference/rerank/$ID" >/dev/null ;;
  404) ;;
  *) echo "setup.sh: GET /_inference/rerank/$ID → $code: ${out%$'\n'*}" >&2; exit 1 ;;
esac
call PUT "/_inference/rerank/$ID" "$(sed -e "s|@CROSSRANK_URL@|$(esc "${CR%/}")|g" \
  -e "s|@CROSSRANK_API_KEY@|$(esc "${CROSSRANK_API_KEY:-none}")|g" inference-endpoint.json)"
