#!/usr/bin/env bash
# setup.sh registers the crossrank sidecar with an OpenSearch (2.12+) cluster
# that has the ml-commons and neural-search plugins, using the JSON files
# beside it:
#   1. cluster settings that let ML Commons call the sidecar,
#   2. an HTTP connector to /v1/rerank (cohere.rerank pre/post-process),
#      a remote model registered and deployed on it,
#   3. the search pipeline "crossrank-rerank" (rerank processor, ml_opensearch),
#   4. a one-pair-per-call connector and model, and the search pipeline
#      "crossrank-by-field" (ml_inference, then rerank.by_field).
# It prints the ids it created or found as NAME=VALUE lines on stdout.
#
# Idempotent: connectors and models are named after a fingerprint of what
# they send (sidecar URL, model, key, fields), so a second run with the same
# settings finds and reuses them (deploying a model again if it was
# undeployed) instead of registering new ones; pipelines and settings are
# PUT again. Any engine error stops the script with the engine's body.
#
# Environment (defaults in brackets):
#   OPENSEARCH_URL      [http://127.0.0.1:9200]
#   OPENSEARCH_CURL     extra curl options, e.g. "-u admin:secret --insecure"
#   CROSSRANK_URL       [http://crossrank:8080]  as OpenSearch's nodes reach it
#   CROSSRANK_MODEL     [empty: the sidecar's default model]
#   CROSSRANK_API_KEY   [none]      sent as "Authorization: Bearer ..."
#   DOCUMENT_FIELDS     ["text"]    JSON array of _source fields to rerank on
#   QUERY_JSONPATH      [$._request.query.match.text.query]  query text for by_field
#   TRUSTED_REGEX       [^<CROSSRANK_URL>/.*$]  plugins.ml_commons.trusted_connector_endpoints_regex
#   SKIP_SETTINGS=1     leave the cluster settings alone (managed clusters)
set -euo pipefail
cd "$(dirname "$0")"
OS="${OPENSEARCH_URL:-http://127.0.0.1:9200}"
CR="${CROSSRANK_URL:-http://crossrank:8080}"
CR="${CR%/}"
MODEL="${CROSSRANK_MODEL:-}"
KEY="${CROSSRANK_API_KEY:-none}"
FIELDS="${DOCUMENT_FIELDS:-[\"text\"]}"
QPATH="${QUERY_JSONPATH:-\$._request.query.match.text.query}"
# regex-escape the URL's dots for the default trusted-endpoint pattern
REGEX="${TRUSTED_REGEX:-^$(printf '%s' "$CR" | sed 's/[.]/\\\\./g')/.*\$}"
# by_field reads one field: the first of DOCUMENT_FIELDS
FIELD="$(printf '%s' "$FIELDS" | sed -n 's/^[[:space:]]*\[[[:space:]]*"\([^"]*\)".*/\1/p')"
[ -n "$FIELD" ] || { echo "setup.sh: DOCUMENT_FIELDS must be a JSON array of field names" >&2; exit 1; }

# render FILE: the file with every @NAME@ replaced
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
render() {
  sed -e "s|@CROSSRANK_URL@|$(esc "$CR")|g" -e "s|@CROSSRANK_MODEL@|$(esc "$MODEL")|g" \
      -e "s|@CROSSRANK_API_KEY@|$(esc "$KEY")|g" -e "s|@DOCUMENT_FIELDS@|$(esc "$FIELDS")|g" \
      -e "s|@DOCUMENT_FIELD@|$(esc "$FIELD")|g" -e "s|@QUERY_JSONPATH@|$(esc "$QPATH")|g" \
      -e "s|@TRUSTED_REGEX@|$(esc "$REGEX")|g" -e "s|@CONNECTOR_ID@|$(esc "${CONNECTOR_ID:-}")|g" \
      -e "s|@MODEL_ID@|$(esc "${MODEL_ID:-}")|g" -e "s|@NAME@|$(esc "${NAME:-}")|g" "$1"
}
# send METHOD PATH [BODY]: print the answer's body, then its status on a line
send() {
  # shellcheck disable=SC2086
  curl -sS ${OPENSEARCH_CURL:-} -X "$1" "$OS$2" -H 'Content-Type: application/json' --data-binary "${3:-}" -w '\n%{http_code}'
}
# call METHOD PATH FILE: send the rendered file, print the answer, fail on an error status
call() {
  local out
  out="$(send "$1" "$2" "$(render "$3")")"
  local code="${out##*$'\n'}" body="${out%$'\n'*}"
  if [ "$code" -ge 300 ]; then echo "setup.sh: $1 $2 → $code: $body" >&2; exit 1; fi
  printf '%s' "$body"
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -1; }
fingerprint() { NAME= render "$1" | sha256sum | cut -c1-12; }

# find KIND NAME: the id of the connector or model called NAME ("" if none)
find_id() {
  local out code body
  out="$(send POST "/_plugins/_ml/$1/_search" "{\"size\":1,\"query\":{\"term\":{\"name.keyword\":\"$2\"}}}")"
  code="${out##*$'\n'}" body="${out%$'\n'*}"
  case "$code" in
    2*) printf '%s' "$body" | sed -n 's/.*"hits":\[{"_index":"[^"]*","_id":"\([^"]*\)".*/\1/p' ;;
    404) ;; # no connector or model yet: their system index does not exist
    *) echo "setup.sh: POST /_plugins/_ml/$1/_search → $code: $body" >&2; exit 1 ;;
  esac
}

[ "${SKIP_SETTINGS:-0}" = 1 ] || call PUT /_cluster/settings cluster-settings.json >/dev/null

register() { # register CONNECTOR_FILE → prints the connector and deployed model ids
  NAME="crossrank-$(basename "$1" .json)-$(fingerprint "$1")"
  CONNECTOR_ID="$(find_id connectors "$NAME")"
  [ -n "$CONNECTOR_ID" ] || CONNECTOR_ID="$(call POST /_plugins/_ml/connectors/_create "$1" | field connector_id)"
  [ -n "$CONNECTOR_ID" ] || { echo "setup.sh: connector creation returned no connector_id" >&2; exit 1; }
  NAME="$NAME-$CONNECTOR_ID"
  MODEL_ID="$(find_id models "$NAME")"
  if [ -z "$MODEL_ID" ]; then
    MODEL_ID="$(call POST '/_plugins/_ml/models/_register?deploy=true' register-model.json | field model_id)"
    [ -n "$MODEL_ID" ] || { echo "setup.sh: model registration returned no model_id" >&2; exit 1; }
  else
    # found: deploy it again unless it is deployed or on its way
    state="$(call GET "/_plugins/_ml/models/$MODEL_ID" /dev/null | field model_state)"
    case "$state" in
      DEPLOYED|DEPLOYING) ;;
      *) call POST "/_plugins/_ml/models/$MODEL_ID/_deploy" /dev/null >/dev/null ;;
    esac
  fi
  state=""
  for _ in $(seq 1 60); do
    state="$(call GET "/_plugins/_ml/models/$MODEL_ID" /dev/null | field model_state)"
    [ "$state" = DEPLOYED ] && break
    sleep 1
  done
  [ "$state" = DEPLOYED ] || { echo "setup.sh: model $MODEL_ID is $state, not DEPLOYED" >&2; exit 1; }
  echo "$CONNECTOR_ID $MODEL_ID"
}

read -r CONNECTOR_ID MODEL_ID < <(register connector.json)
call PUT /_search/pipeline/crossrank-rerank pipeline-rerank.json >/dev/null
echo "RERANK_CONNECTOR_ID=$CONNECTOR_ID"
echo "RERANK_MODEL_ID=$MODEL_ID"
echo "RERANK_PIPELINE=crossrank-rerank"

read -r CONNECTOR_ID MODEL_ID < <(register connector-one-to-one.json)
call PUT /_search/pipeline/crossrank-by-field pipeline-by-field.json >/dev/null
echo "BY_FIELD_CONNECTOR_ID=$CONNECTOR_ID"
echo "BY_FIELD_MODEL_ID=$MODEL_ID"
echo "BY_FIELD_PIPELINE=crossrank-by-field"
