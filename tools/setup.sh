#!/usr/bin/env bash
# Everything a fresh machine needs, for one purpose, and nothing on a second run:
#   bash tools/setup.sh demo   the main job (make demo): .venv, PyTorch's CPU wheel first (plain `torch` would pull a
#                              multi-gigabyte CUDA build), the project in editable mode. No Debian package.
#   bash tools/setup.sh test   every check (make test, the default): the same plus the dev extra and the Debian packages
#                              the tests call; then the venv holds exactly the lock (what the lock lacks is uninstalled).
# Every version comes from constraints.txt, the lock of the set the suite passed with (python tools/lock.py makes it).
set -euo pipefail
cd "$(dirname "$0")/.."

PURPOSE=${1:-test}
case "$PURPOSE" in demo|test) ;; *) echo "setup: unknown purpose '$PURPOSE': give demo or test" >&2; exit 2;; esac
PYTHON=${PYTHON:-python3}
VENV=.venv
LOCK=constraints.txt
DEB_PACKAGES=(git chromium chromium-driver)   # the tests call git, and chromium + its driver for the docs-site browser test (selenium)

if [ "$PURPOSE" = test ]; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "codex_nb needs Python 3.11 or newer"'
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# A stamp per purpose holds the hash of what decides the installation (the lock included, so a changed lock reinstalls);
# a second run with the same inputs is instant, and a venv set up for the tests serves the demo too.
want=$(cat pyproject.toml "$LOCK" tools/setup.sh | sha256sum | cut -d' ' -f1)
ok() { [ -f "$VENV/.codex-nb-setup-$1" ] && [ "$(cat "$VENV/.codex-nb-setup-$1")" = "$want" ]; }
if { ok "$PURPOSE" || ok test; } && "$VENV/bin/python" -c "import torch, codex_nb" 2>/dev/null; then
  exit 0
fi

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
echo "setup: installing into $VENV from $LOCK (a few minutes the first time)"
pip install --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: no torch importable: installing PyTorch's CPU wheel first ($(grep '^torch==' "$LOCK"))"
  pip install -c "$LOCK" ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} torch  # elsewhere: TORCH_INDEX=https://download.pytorch.org/whl/cpu
fi
if [ "$PURPOSE" = test ]; then
  pip install -c "$LOCK" -e ".[dev]"
  "$VENV/bin/python" tools/lock.py --sync
else
  pip install -c "$LOCK" -e .
fi
echo "$want" > "$VENV/.codex-nb-setup-$PURPOSE"
echo "setup: done ($PURPOSE)"
