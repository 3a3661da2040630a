# Edge Insights — the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test ui serve bench clean

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

test: $(STAMP)
	$(BIN)/python -m pytest

ui: $(STAMP)
	$(BIN)/edge-insights ui

serve: $(STAMP)
	$(BIN)/edge-insights serve

# Data benchmarks run anywhere; edge_speed and student_depth need a demo's state folder (make demo).
bench: $(STAMP)
	$(BIN)/python benchmarks/pii_recall.py
	$(BIN)/python benchmarks/price_strings.py
	$(BIN)/python benchmarks/extraction_score.py
	$(BIN)/python benchmarks/crawl_speed.py
	$(BIN)/python benchmarks/edge_speed.py
	$(BIN)/python benchmarks/student_depth.py

clean:
	rm -rf "$${EDGE_INSIGHTS_STATE_DIR:-var}" .pytest_cache
