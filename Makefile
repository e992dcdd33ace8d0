# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench fuzz install clean

install: $(STAMP)

# Re-install when the dependency list changes; system packages are checked every time (cheap when present).
$(STAMP): pyproject.toml scripts/install-system-deps.sh
	@scripts/install-system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps "resemblyzer==0.1.4"
	@touch $(STAMP)

demo: $(STAMP)
	@$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks scripts fuzz
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks scripts fuzz

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Coverage-guided fuzzing (atheris) of the decoder and the manifest reader, FUZZ_SECONDS each. New inputs
# collect in fuzz/work/TARGET (kept between runs), crashes in fuzz/artifacts/: copy each into
# fuzz/regressions/TARGET/ so tests/fuzz/test_fuzz.py replays it, then fix it.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	@rm -rf fuzz/seeds && $(BIN)/python fuzz/make_seeds.py fuzz/seeds
	@mkdir -p fuzz/artifacts
	@for t in decode manifest; do \
	    mkdir -p fuzz/work/$$t; echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    $(BIN)/python fuzz/fuzz_$$t.py fuzz/work/$$t fuzz/seeds/$$t $$(ls -d fuzz/regressions/$$t 2>/dev/null) \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=3000 -max_len=24000 \
	        -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 || exit 1; \
	done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache demo-output
