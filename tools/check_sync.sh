#!/usr/bin/env bash
# The notebooks are the source: exporting them, cleaning them and generating the README
# must change nothing. Fails (and leaves the regenerated files for review) when they do.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

snapshot() {
  find nbs codex_nb README.md -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' -print0 \
    | sort -z | xargs -0 sha256sum
}
before=$(snapshot)
"$BIN/nbdev-export"
"$BIN/nbdev-clean"
"$BIN/python" tools/make_readme.py . >/dev/null
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "sync check FAILED: nbdev-export / nbdev-clean / tools/make_readme.py changed these files:"
  diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /  /p' | sort -u
  echo "Review the changes (git diff), commit them, and run the tests again."
  exit 1
fi
echo "sync check passed: notebooks, package and README agree"
