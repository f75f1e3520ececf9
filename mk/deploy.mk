# Deployment examples (issue 18): Debian's HAProxy for the replicas
# integration test (examples/deploy/replicas_integration_test.go), which
# `make integration` runs.

.PHONY: setup-haproxy

## setup-haproxy: Debian haproxy for the replicas failover test (idempotent)
setup-haproxy:
	@command -v haproxy >/dev/null 2>&1 || { \
		echo "installing haproxy (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null; }
	@command -v haproxy >/dev/null 2>&1 || { echo "haproxy missing after install"; exit 1; }

# The failover test's load balancer is installed before `make integration` runs it.
integration: setup-haproxy
