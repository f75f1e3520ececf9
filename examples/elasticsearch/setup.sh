#!/usr/bin/env bash
# setup.sh creates the Elasticsearch (8.19+ / 9.1+) inference endpoint
# "crossrank" for the rerank task, pointing at the sidecar's /v1/rerank,
# from inference-endpoint.json. Then search with search-retriever.json.
#
# Environment (defaults in brackets):
#   ELASTICSEARCH_URL   [http://localhost:9200]
#   ELASTICSEARCH_CURL  extra curl options, e.g. "-u elastic:secret --cacert ca.crt"
#   CROSSRANK_URL       [http://crossrank:8080]  as Elasticsearch's nodes reach it
#   CROSSRANK_API_KEY   [none]                   sent as "Authorization: Bearer ..."
#   INFERENCE_ID        [crossrank]
set -euo pipefail
cd "$(dirname "$0")"
ES="${ELASTICSEARCH_URL:-http://localhost:9200}"
CR="${CROSSRANK_URL:-http://crossrank:8080}"
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
sed -e "s|@CROSSRANK_URL@|$(esc "${CR%/}")|g" -e "s|@CROSSRANK_API_KEY@|$(esc "${CROSSRANK_API_KEY:-none}")|g" inference-endpoint.json |
  # shellcheck disable=SC2086
  curl -fsS ${ELASTICSEARCH_CURL:-} -X PUT "$ES/_inference/rerank/${INFERENCE_ID:-crossrank}" \
    -H 'Content-Type: application/json' --data-binary @-
echo
