#!/usr/bin/env bash
# Everything a fresh machine needs before the demo or the tests, and nothing on a second run:
# .venv, PyTorch's CPU wheel first (plain `torch` would pull a multi-gigabyte CUDA build),
# the project in editable mode with its dev extra, and the Debian packages the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
TORCH_CPU="torch==2.13.0"
DEB_PACKAGES=(git chromium chromium-driver)   # Debian packages the tests call: git; chromium + its driver for the docs-site browser test (selenium)

missing=()
for p in "${DEB_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "codex_nb needs Python 3.11 or newer"'
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# The stamp holds the hash of what decides the installation; a second run with the same inputs is instant.
stamp="$VENV/.codex-nb-setup"
want=$(cat pyproject.toml tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c "import torch, codex_nb" 2>/dev/null; then
  exit 0
fi

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
echo "setup: installing into $VENV (a few minutes the first time)"
pip install --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: no torch importable: installing the CPU wheel $TORCH_CPU first"
  pip install "$TORCH_CPU"
fi
pip install -e ".[dev]"
echo "$want" > "$stamp"
echo "setup: done"
