# Observability and bench (issue 6): headless Chromium for the dashboard test,
# peer benchmarks (`make bench-peers`, not part of `make test`).

PEERS_VENV := $(CACHE)/venv-peers
INFINITY_VENV := $(CACHE)/venv-infinity
# flock, where present, so two checkouts sharing .cache never install into
# one venv at once (the same lock idiom as mk/models.mk).
PEERS_LOCK = $(if $(shell command -v flock),flock $(1).lock,)
PEERS_OUT ?= $(ROOT)/out/peers

.PHONY: setup-chromium bench-peers bench-report bench-soak test-peers-report venv-peers venv-infinity

TEST_SETUP_TARGETS += setup-chromium
BENCH_TARGETS += bench-report
TEST_TARGETS += test-peers-report

## setup-chromium: Debian chromium for the dashboard's browser test (idempotent)
setup-chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { echo "chromium missing after install"; exit 1; }

## venv-peers: sentence-transformers (PyTorch CPU, ONNX) for bench-peers in .cache/venv-peers (~6 GB, not in make setup)
venv-peers: $(PEERS_VENV)/.crossrank-stamp

$(PEERS_VENV)/.crossrank-stamp: scripts/peers/requirements.txt
	$(call PEERS_LOCK,$(PEERS_VENV)) bash -c 'python3 -m venv $(PEERS_VENV) && \
		$(PEERS_VENV)/bin/pip install -q --disable-pip-version-check -r scripts/peers/requirements.txt && touch $@'

## venv-infinity: Infinity 0.0.78 (torch and optimum engines) for bench-peers in .cache/venv-infinity (~6 GB, not in make setup)
venv-infinity: $(INFINITY_VENV)/.crossrank-stamp

$(INFINITY_VENV)/.crossrank-stamp: scripts/peers/requirements-infinity.txt
	$(call PEERS_LOCK,$(INFINITY_VENV)) bash -c 'python3 -m venv $(INFINITY_VENV) && \
		$(INFINITY_VENV)/bin/pip install -q --disable-pip-version-check -r scripts/peers/requirements-infinity.txt && touch $@'

## bench-peers: crossrank vs transformers.js, sentence-transformers (PyTorch CPU, ONNX), Infinity (torch) on the twin (not part of make test)
bench-peers: setup build $(PEERS_VENV)/.crossrank-stamp $(INFINITY_VENV)/.crossrank-stamp
	BIN=$(BIN) TWIN=$(CACHE)/models/twin PEERS_OUT=$(PEERS_OUT) INFINITY_VENV=$(INFINITY_VENV) ./scripts/peers/run_peers.sh

## test-peers-report: the peer report's medians, ratios and verdict on hand-made rounds (stdlib Python)
test-peers-report:
	python3 -m unittest discover -s scripts/peers -p 'test_*.py'

## bench-report: a short batch x concurrency sweep of the default model, report in out/bench
bench-report: setup build
	$(BIN) bench --model $(CACHE)/models/twin --sweep "batch=16,32,64;concurrency=1,2,4" --duration 20s --report $(ROOT)/out/bench

## bench-soak: a 10-minute soak of the default model, report in out/soak
bench-soak: setup build
	$(BIN) bench --model $(CACHE)/models/twin --batch 32 --concurrency 2 --soak 10m --report $(ROOT)/out/soak
