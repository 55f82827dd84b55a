# The two commands of the README: `make demo` and `make test`. Both do all set-up first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo experiment test test-slow setup sync lint nbtest pytest readme export lab

demo: setup ## train the main job on the embedded default config (configs/default.yaml, the stdlib corpus)
	OMP_NUM_THREADS=2 $(BIN)/codex-train

test: setup ## every check: sync, ruff, notebook tests, pytest
	bash tools/test.sh

experiment: setup ## the experiment notebook (nbs/experiments/train.ipynb) through papermill: train, evaluate, sample, plot, MLflow
	OMP_NUM_THREADS=2 $(BIN)/codex-experiment

test-slow: setup ## the slow tests and the notebook cells flagged slow (torch.compile, long runs)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow tests
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --flags slow

setup: ## .venv, CPU torch, the project with its dev extra, Debian packages (idempotent)
	bash tools/setup.sh

sync: setup ## notebooks, package and README agree
	bash tools/check_sync.sh

lint: setup
	$(BIN)/ruff check .

nbtest: setup ## notebook tests only; FLAGS="slow cuda" runs the flagged cells too
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 $(if $(FLAGS),--flags "$(FLAGS)")

pytest: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q tests

export: setup ## export the notebooks to codex_nb/ and clean them
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean

readme: setup ## README.md from nbs/index.ipynb, with or without Quarto
	$(BIN)/python tools/make_readme.py .

lab: setup ## JupyterLab on nbs/
	$(BIN)/jupyter lab --notebook-dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root)
