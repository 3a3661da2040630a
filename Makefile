# Edge Insights — the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint ui serve bench report clean

# First use creates the virtualenv and installs the project with every extra; pyproject.toml
# changes reinstall. torch is pinned to the CPU build that pip finds on this machine.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edge-insights demo

# Everything: the layer contracts, then every test (units, slow, e2e) on both cores. A worker that
# crashes is not replaced: xdist's replacement once waited for ever, and the crash alone fails the run.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --max-worker-restart 0

# Units only (no training, crawls or servers): the inner loop, under 90 s on 2 cores.
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -m "not slow and not e2e"

lint: $(STAMP)
	$(BIN)/lint-imports

# The notebooks of notebooks/ executed against the state folder (after `make demo`), HTML in <state>/report/.
report: $(STAMP)
	$(BIN)/edge-insights report

ui: $(STAMP)
	$(BIN)/edge-insights ui

serve: $(STAMP)
	$(BIN)/edge-insights serve

# Data benchmarks run anywhere; edge_speed, student_depth and live_latency need a demo's state folder (make demo);
# broker_compare starts its own redis-server (Debian package redis-server).
bench: $(STAMP)
	$(BIN)/python benchmarks/pii_recall.py
	$(BIN)/python benchmarks/price_strings.py
	$(BIN)/python benchmarks/extraction_score.py
	$(BIN)/python benchmarks/crawl_speed.py
	$(BIN)/python benchmarks/edge_speed.py
	$(BIN)/python benchmarks/student_depth.py
	$(BIN)/python benchmarks/audit_chain_cost.py
	$(BIN)/python benchmarks/bundle_signing.py
	$(BIN)/python benchmarks/auth_cost.py
	$(BIN)/python benchmarks/live_staleness.py
	$(BIN)/python benchmarks/live_latency.py
	$(BIN)/python benchmarks/broker_compare.py
	$(BIN)/python benchmarks/revocation.py

clean:
	rm -rf "$${EDGE_INSIGHTS_STATE_DIR:-var}" .pytest_cache
