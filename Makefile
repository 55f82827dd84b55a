# The two commands of the README: `make demo` and `make test`. Both do all set-up first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo train test test-slow fuzz setup setup-demo lock sync lint nbtest pytest readme export lab docs dist

demo: setup-demo ## the main job: the experiment notebook on the default config (stdlib corpus): data, tokenizer, training, evaluation, HumanEval, samples, plots, MLflow
	OMP_NUM_THREADS=2 $(BIN)/codex-experiment

test: setup ## every check: sync, ruff, notebook tests, pytest
	bash tools/test.sh

train: setup-demo ## codex-train alone on the default config (no notebook, no HumanEval)
	OMP_NUM_THREADS=2 $(BIN)/codex-train

test-slow: setup ## the slow tests and the notebook cells flagged slow (torch.compile, long runs)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow tests
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --flags slow

setup: ## for the checks: .venv, CPU torch, the project with its dev extra, the Debian packages the tests call; all from constraints.txt (idempotent)
	bash tools/setup.sh test

setup-demo: ## for the main job: .venv, CPU torch, the project; from constraints.txt; no Debian package (idempotent)
	bash tools/setup.sh demo

lock: ## regenerate constraints.txt, the lock: codex-nb[dev] resolved afresh in a throw-away venv (after changing a dependency)
	$(or $(wildcard $(BIN)/python),python3) tools/lock.py

sync: setup ## notebooks, package and README agree
	bash tools/check_sync.sh

lint: setup
	$(BIN)/ruff check .

nbtest: setup ## notebook tests only; FLAGS="slow cuda" runs the flagged cells too
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 $(if $(FLAGS),--flags "$(FLAGS)")

pytest: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q tests

fuzz: setup ## the property and fuzz tests on fresh random examples (make test draws fixed ones); RUNS=N repeats
	for i in $$(seq $(or $(RUNS),1)); do HYPOTHESIS_PROFILE=explore OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q $$(grep -l '^from hypothesis' tests/*/test_*.py) || exit 1; done

export: setup ## export the notebooks to codex_nb/ and clean them
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean

readme: setup ## README.md from nbs/index.ipynb, with or without Quarto
	$(BIN)/python tools/make_readme.py .

docs: setup ## the documentation site in _docs/: nbdev-docs with Quarto, else nbdev + nbconvert offline (tools/docs.py)
	$(BIN)/python tools/docs.py

lab: setup ## JupyterLab on nbs/
	$(BIN)/jupyter lab --notebook-dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root)

dist: setup ## wheel and sdist into dist/, offline (the Dockerfiles in docker/ install the wheel)
	rm -rf dist && $(BIN)/python -m build --no-isolation --outdir dist .
