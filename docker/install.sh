#!/bin/sh
# Install codex_nb from a built wheel, as the Dockerfiles do it (and tests/system/test_packaging.py checks it):
#   PyTorch first, from TORCH_INDEX when set (https://download.pytorch.org/whl/cpu for the CPU image;
#   unset: PyPI, whose Linux wheels are CUDA builds), and only when no torch is importable;
#   then the wheel with its dependencies; then a check that the commands start.
# Usage: sh docker/install.sh WHEEL_DIR   (PYTHON: the interpreter to install into, default python3;
#   TORCH_SPEC: default torch==2.13.0; pip's own PIP_* variables apply, e.g. PIP_NO_INDEX=1 offline)
set -eu
wheels=${1:?usage: install.sh WHEEL_DIR (a folder holding codex_nb-*.whl, from make dist)}
py=${PYTHON:-python3}
set -- "$wheels"/codex_nb-*.whl
[ -f "$1" ] || { echo "install.sh: no codex_nb-*.whl in $wheels: run make dist first" >&2; exit 2; }
[ $# -eq 1 ] || { echo "install.sh: more than one codex_nb wheel in $wheels: keep one" >&2; exit 2; }
if ! "$py" -c "import torch" 2>/dev/null; then
  "$py" -m pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "${TORCH_SPEC:-torch==2.13.0}"
fi
"$py" -m pip install "$1"
bin=$(dirname "$("$py" -c 'import sys; print(sys.executable)')")
"$bin/codex-train" --version
"$py" -m codex_nb --version
"$py" -c "import codex_nb.cli, torch; print('codex_nb', codex_nb.__version__, 'on torch', torch.__version__)"
