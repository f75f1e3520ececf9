# Search-engine integration (issues 7 and 16): real engines fetched from
# Maven Central and started on loopback, one at a time — OpenSearch 2.19.6
# and 3.6.0 with the ml-commons, neural-search, k-NN and job-scheduler
# plugins (.cache/opensearch, about 430 MB and 560 MB the first time), and
# Elasticsearch 8.19.21 with security on (.cache/elasticsearch, 107 MB) —
# the crossrank binary in proxy mode in front of each, the examples/
# set-ups and the READMEs' commands run against them. Not part of
# `make test` (the downloads); .ci/run runs it after `make test`.

.PHONY: integration setup-engines setup-opensearch setup-opensearch3 setup-elasticsearch \
	opensearch-start opensearch-stop elasticsearch-start elasticsearch-stop

## setup-opensearch: fetch and install OpenSearch 2.19.6 and its plugins (idempotent)
setup-opensearch:
	@./scripts/opensearch/fetch.sh >/dev/null

## setup-opensearch3: fetch and install OpenSearch 3.6.0 and its plugins (idempotent)
setup-opensearch3:
	@OPENSEARCH_VERSION=3.6.0 ./scripts/opensearch/fetch.sh >/dev/null

## setup-elasticsearch: fetch and install Elasticsearch 8.19.21 (idempotent)
setup-elasticsearch:
	@./scripts/elasticsearch/fetch.sh >/dev/null

## setup-engines: all three, fetched side by side (mvn spends most of its
## time starting up, once per artifact)
setup-engines:
	@./scripts/opensearch/fetch.sh >/dev/null & a=$$!; \
	OPENSEARCH_VERSION=3.6.0 ./scripts/opensearch/fetch.sh >/dev/null & b=$$!; \
	./scripts/elasticsearch/fetch.sh >/dev/null & c=$$!; \
	fail=0; for p in $$a $$b $$c; do wait $$p || fail=1; done; exit $$fail

## integration: the proxy, _msearch, /v1/rerank/hits and the set-ups against
## the real engines (one at a time)
integration: setup build setup-engines
	$(GO) test -count=1 -tags integration -timeout 30m -run '^TestIntegration' -v ./sidecar/proxy/
	$(GO) test -count=1 -tags integration -timeout 10m -run '^TestIntegration' -v ./examples/deploy/

## opensearch-start / opensearch-stop: a node for trying things by hand on
## 127.0.0.1:9200 (OPENSEARCH_PORT, OPENSEARCH_VERSION=3.6.0; data in
## .cache/opensearch/run)
opensearch-start:
	@./scripts/opensearch/fetch.sh >/dev/null
	@OPENSEARCH_PORT=$${OPENSEARCH_PORT:-9200} ./scripts/opensearch/start.sh

opensearch-stop:
	@./scripts/opensearch/stop.sh

## elasticsearch-start / elasticsearch-stop: a node for trying things by hand
## on 127.0.0.1:9201, user elastic, password crossrank-dev
## (ELASTICSEARCH_PORT, ELASTICSEARCH_PASSWORD; data in .cache/elasticsearch/run)
elasticsearch-start: setup-elasticsearch
	@ELASTICSEARCH_PORT=$${ELASTICSEARCH_PORT:-9201} ./scripts/elasticsearch/start.sh

elasticsearch-stop:
	@./scripts/elasticsearch/stop.sh
