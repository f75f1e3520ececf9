#!/usr/bin/env bash
# sample-data.sh creates the index "articles" (title and text as text
# fields) in OpenSearch and indexes the 12 documents of articles.ndjson
# beside it, with fixed ids: running it again rewrites the same documents.
#
# Environment: OPENSEARCH_URL [http://127.0.0.1:9200], OPENSEARCH_CURL
# (extra curl options, e.g. "-u admin:secret --cacert ca.pem"), INDEX [articles].
set -euo pipefail
cd "$(dirname "$0")"
OS="${OPENSEARCH_URL:-http://127.0.0.1:9200}"
INDEX="${INDEX:-articles}"
# req METHOD PATH CONTENT-TYPE DATA: fail with the engine's body on an error status
req() {
  # shellcheck disable=SC2086
  curl -sS --fail-with-body ${OPENSEARCH_CURL:-} -X "$1" "$OS$2" -H "Content-Type: $3" --data-binary "$4"
}
code="$(curl -sS -o /dev/null -w '%{http_code}' ${OPENSEARCH_CURL:-} -I "$OS/$INDEX")"
case "$code" in
  200) ;;
  404) req PUT "/$INDEX" application/json \
         '{"mappings":{"properties":{"title":{"type":"text"},"text":{"type":"text"}}}}' >/dev/null ;;
  *) echo "sample-data.sh: HEAD /$INDEX → $code" >&2; exit 1 ;;
esac
out="$(req POST "/$INDEX/_bulk?refresh=true" application/x-ndjson @articles.ndjson)"
case "$out" in *'"errors":false'*) ;; *) echo "sample-data.sh: bulk: $out" >&2; exit 1 ;; esac
echo "sample-data.sh: $INDEX holds $(grep -c '"_id"' articles.ndjson) documents"
