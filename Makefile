# Two commands do everything: `make run` and `make test`. The rest are their parts.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test deps system-deps system-deps-test system-deps-bench lint prove pytest bench clean

run: deps system-deps
	$(BIN)/haven run

test: deps system-deps-test lint prove pytest

deps: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 is required (set PYTHON=...)" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	scripts/install-system-deps

system-deps-test:
	scripts/install-system-deps --for-tests

system-deps-bench:
	scripts/install-system-deps --for-bench

lint: deps
	$(BIN)/sqlfluff lint supabase sql_tests

prove: deps system-deps-test
	$(BIN)/haven db prove

pytest: deps system-deps-test
	$(BIN)/pytest

bench: deps system-deps-bench $(VENV)/.bench-installed
	@# -P: bench/ stays off sys.path, where bench/queue.py would shadow the standard library.
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python -P $$script || exit 1; done

# The bench's peers (bench/queue.py): the `bench` optional dependencies, never part of `make deps`.
$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

clean:
	-$(BIN)/haven db down 2>/dev/null
	rm -rf $(VENV) .haven .pytest_cache .bench
