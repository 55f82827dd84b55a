"Shared helpers: run codex_nb's commands as a user would, in subprocesses of the project's venv."
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

# Property tests draw the same examples on every run of `make test` ("repeatable": derandomized, seeded from
# each test's name), so CI passes or fails on the code, not on the draw. `make fuzz` explores new random examples
# ("explore"); whatever it finds becomes a fixed regression test.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TEST_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run(args, cwd=ROOT, env=None, timeout=300, text=True):
    "Run `args` with the test environment; return the CompletedProcess (text output, or bytes with `text=False`)."
    full_env = {**os.environ, **TEST_ENV, **(env or {})}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=full_env, capture_output=True, text=text, timeout=timeout)


def assert_usage_error(result, prog, *needles):
    "Exit 2, nothing on stdout, exactly one `PROG: error: ...` line on stderr containing every needle."
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for n in needles: assert n in lines[0], (n, lines[0])
