# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Two stamps: what serving needs (`make run`), and the test tools on top (`make test`).
STAMP      := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: run test lint typecheck bench bench-scale bench-peer clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	@echo "dex-py: open http://127.0.0.1:5556/dex/ ; demo login admin@example.com / password"
	@echo "        try a login: $(BIN)/dex-py example-app, then open http://127.0.0.1:5555/"
	$(BIN)/dex-py serve config.example.yaml

test: $(STAMP) $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Issue 9's benchmark (~20 min): peer.py, run.py's target table, scale.py; tables in
# bench/results/bench.md. Options through BENCH_ARGS='--run-args "--runs 1 --duration 3"'.
bench: $(STAMP)
	$(BIN)/python bench/suite.py $(BENCH_ARGS)

# The scale table alone: 1M refresh tokens, 100k users, 10k clients, GC under load (~6 min).
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py $(SCALE_ARGS)

# dex-py next to node oidc-provider (installed by npm into bench/node_peer on first use).
bench-peer: $(STAMP)
	$(BIN)/python bench/peer.py $(PEER_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info var
