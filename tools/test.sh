#!/usr/bin/env bash
# Every check, each run even when an earlier one failed; exits non-zero if any failed.
# Threads are pinned: two test workers on two cores must not fight over them.
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
BIN=.venv/bin
WORKERS=${TEST_WORKERS:-2}

failed=()
step() {
  local name=$1; shift
  echo "== $name: $*"
  local t0=$SECONDS
  if "$@"; then echo "== $name passed ($((SECONDS - t0)) s)"; else echo "== $name FAILED ($((SECONDS - t0)) s)"; failed+=("$name"); fi
}

step sync bash tools/check_sync.sh
step ruff "$BIN/ruff" check .
step lock "$BIN/python" tools/lock.py --check
step notebooks "$BIN/nbdev-test" --n-workers "$WORKERS"
step pytest "$BIN/python" -m pytest -n "$WORKERS" -q tests

if [ ${#failed[@]} -gt 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all checks passed"
