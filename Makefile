# kitkeeper: `make demo` runs a broker, a controller and an agent for this machine;
# `make test` installs what the tests need and runs lint, type checks and every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_MQTT_PORT ?= 1884
DEMO_HTTP_PORT ?= 8000
DEMO_INTERVAL ?= 5
APT_PACKAGES := mosquitto mosquitto-clients mosquitto-dev gcc smartmontools fonts-dejavu-core
# What the tests need beyond the demo: network namespaces with loss and delay, umockdev devices,
# libfaketime for the runs at other dates.
TEST_APT_PACKAGES := iproute2 iptables libnetfilter-queue-dev umockdev python3-gi gir1.2-umockdev-1.0 poppler-utils \
	faketime chromium nginx-light

.PHONY: demo test test-slow pytest-slow lint typecheck pytest pytest-any-date system-deps test-deps apt-install venv clean bench bench-ingest bench-ingest-hostile bench-agent bench-week bench-content-serve bench-content-sync

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the demo and the tests run for real (installed only when missing).
system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps: venv system-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"
	@$(BIN)/python -c "import netfilterqueue" 2>/dev/null || $(BIN)/pip install --quiet NetfilterQueue

apt-install:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: venv system-deps
	$(BIN)/python tools/demo.py --mqtt-port $(DEMO_MQTT_PORT) --http-port $(DEMO_HTTP_PORT) --interval $(DEMO_INTERVAL)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# Two workers (pytest-xdist), each module on one of them so that its shared fixtures start once;
# the slowest tests are listed at the end of the run.
XDIST := -n $${KITKEEPER_TEST_WORKERS:-2} --dist loadscope
pytest: venv test-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -m "not soak" $(XDIST) --durations=15

# Long scenarios (marked `soak`) that do not fit `make test`'s 20 minutes; CI runs them too.
pytest-slow: venv test-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -m soak

test-slow: pytest-slow

# The tests that start no processes, again with the clock moved (libfaketime): 400 days ahead,
# half an hour before a leap day ends in Almaty, and a minute before a new year begins in UTC.
# Starting a process there fails the test (KITKEEPER_TEST_NO_PROCESSES, tests/conftest.py).
ANY_DATE := $(BIN)/pytest -m "not processes" -q -p no:cacheprovider $(XDIST)
pytest-any-date: venv test-deps
	KITKEEPER_TEST_NO_PROCESSES=1 faketime -f +400d $(ANY_DATE)
	KITKEEPER_TEST_NO_PROCESSES=1 TZ=Asia/Almaty faketime '2028-02-29 23:30:00' $(ANY_DATE)
	KITKEEPER_TEST_NO_PROCESSES=1 TZ=UTC faketime '2027-12-31 23:59:00' $(ANY_DATE)

test: lint typecheck pytest pytest-any-date

# Benchmarks print figures (and write bench/results/*.json); they assert nothing and are not
# part of `make test`.
bench: bench-ingest bench-agent bench-content-serve bench-content-sync bench-week

bench-ingest: venv system-deps
	$(BIN)/python bench/ingest.py --kits $${KITS:-2000} --messages $${MESSAGES:-100000} \
	  --far-ts-share $${FAR_TS_SHARE:-0} --hostile-kit $${HOSTILE:-0}

# The same, then once more with one kit flooding far above its rate limit beside the others.
bench-ingest-hostile:
	$(MAKE) bench-ingest HOSTILE=$${HOSTILE:-0.2}

# A healthy kit's steady state (umockdev peripherals, no rule fires), then one playbook run apart.
bench-agent: test-deps
	$(BIN)/python bench/agent_footprint.py --minutes $${MINUTES:-2.5} --interval $${INTERVAL:-30} \
	  --playbook $${PLAYBOOK:-audio-reset}

# The pupil's page serving a 100 KB and a 100 MB resource against Debian's nginx, one load generator.
bench-content-serve: test-deps
	$(BIN)/python bench/content_serve.py --seconds $${SECONDS_PER_LOAD:-5} --rounds $${ROUNDS:-3} \
	  --connections $${CONNECTIONS:-16}

# The agent's content sync against curl: the same blobs, the same TLS link and client certificate.
bench-content-sync: test-deps
	$(BIN)/python bench/content_sync.py --mib $${MIB:-256} --repeat $${REPEAT:-3}

bench-week: venv
	$(BIN)/python bench/simulate_week.py --runs $${RUNS:-200} --seed $${SEED:-1}

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
