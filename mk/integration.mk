# Search-engine integration (issue 7): a real OpenSearch with the ml-commons
# and neural-search plugins, fetched from Maven Central into .cache/opensearch
# (about 430 MB the first time), the crossrank binary in proxy mode in front of
# it, and the examples/opensearch set-up run against both. Not part of
# `make test` (the download); .ci/run runs it after `make test`.

.PHONY: integration setup-opensearch opensearch-start opensearch-stop

## setup-opensearch: fetch and install OpenSearch and its plugins (idempotent)
setup-opensearch:
	@./scripts/opensearch/fetch.sh >/dev/null

## integration: the proxy and the set-ups against a real OpenSearch
integration: setup build setup-opensearch
	$(GO) test -count=1 -tags integration -timeout 20m -run '^TestIntegration' -v ./sidecar/proxy/
	$(GO) test -count=1 -tags integration -timeout 10m -run '^TestIntegration' -v ./examples/deploy/

## opensearch-start / opensearch-stop: a node for trying things by hand
## (.cache/opensearch/run; prints its URL)
opensearch-start: setup-opensearch
	@./scripts/opensearch/start.sh

opensearch-stop:
	@./scripts/opensearch/stop.sh
