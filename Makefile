# Two commands do all set-up:  `make demo` (main job on the embedded play table) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow lint type bench train-default clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vla-agent demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .

type: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

train-default: $(STAMP)
	$(VENV)/bin/vla-agent train-default --out runs/default --install

clean:
	rm -rf runs .pytest_cache .ruff_cache .mypy_cache
