#!/bin/sh
# Install codex_nb from a built wheel, as the Dockerfiles do it (and tests/system/test_packaging.py checks it):
#   PyTorch first, and only when no torch is importable (TORCH_INDEX, when set, is an extra index for it:
#   https://download.pytorch.org/whl/cpu for the CPU image; unset: PyPI, whose Linux wheels are CUDA builds);
#   then the wheel with its dependencies; then a check that the commands start.
#   With LOCK (constraints.txt, the lock of the tested set) every dependency gets the version the suite passed with.
# Usage: sh docker/install.sh WHEEL_DIR [LOCK]   (PYTHON: the interpreter to install into, default python3;
#   TORCH_SPEC: default torch==2.13.0, which the lock's torch==2.13.0+cpu narrows to the CPU build;
#   pip's own PIP_* variables apply, e.g. PIP_NO_INDEX=1 offline)
set -eu
wheels=${1:?usage: install.sh WHEEL_DIR [LOCK] (a folder holding codex_nb-*.whl, from make dist; the lock, constraints.txt)}
lock=${2:-}
py=${PYTHON:-python3}
set -- "$wheels"/codex_nb-*.whl
[ -f "$1" ] || { echo "install.sh: no codex_nb-*.whl in $wheels: run make dist first" >&2; exit 2; }
[ $# -eq 1 ] || { echo "install.sh: more than one codex_nb wheel in $wheels: keep one" >&2; exit 2; }
[ -z "$lock" ] || [ -f "$lock" ] || { echo "install.sh: no lock file $lock" >&2; exit 2; }
if ! "$py" -c "import torch" 2>/dev/null; then
  "$py" -m pip install ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} ${lock:+-c "$lock"} "${TORCH_SPEC:-torch==2.13.0}"
fi
"$py" -m pip install ${lock:+-c "$lock"} "$1"
bin=$(dirname "$("$py" -c 'import sys; print(sys.executable)')")
"$bin/codex-train" --version
"$py" -m codex_nb --version
"$py" -c "import codex_nb.cli, torch; print('codex_nb', codex_nb.__version__, 'on torch', torch.__version__)"
