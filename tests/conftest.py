"Shared helpers: run codex_nb's commands as a user would, in subprocesses of the project's venv."
import io
import logging
import os
import subprocess
import sys
import traceback
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
TINY = ROOT / "configs" / "tiny.yaml"  # the recipe of the tests (and of the tutorials, `run.recipe("tiny")`): a 0.1M-parameter GPT that trains in seconds

TEST_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def tiny_model(**changes):
    "The tests' smallest `gpt` config (one layer, 16 wide, 16 tokens of context, 40 in the vocabulary), with `changes`."
    from codex_nb.config import ModelConfig
    return ModelConfig(**{"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "vocab_size": 40, **changes})


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


def call_main(main_fn, argv, stdin=""):
    "Run a command's `main_fn(argv)` in-process, with stdin/stdout/stderr as a process under a C.UTF-8 locale has them: (exit code, stdout, stderr)."
    out_b, err_b = io.BytesIO(), io.BytesIO()  # (surrogateescape: argv's undecodable bytes print back as they came)
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="surrogateescape", newline="\n", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace", newline="\n", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    handlers = [h for h in logging.getLogger("codex_nb").handlers if isinstance(h, logging.StreamHandler)]
    streams = {h: h.setStream(err) for h in handlers}
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = main_fn(list(argv))
    except SystemExit as e:  # argparse's --help
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except Exception:  # what a real process would print before dying
        err.write(traceback.format_exc())
        code = "uncaught exception"
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for h in logging.getLogger("codex_nb").handlers:  # handlers made during the call hold our stream
            if isinstance(h, logging.StreamHandler) and h.stream is err: h.setStream(streams.get(h) or saved[2])
    return code, out_b.getvalue().decode("utf-8", "replace"), err_b.getvalue().decode("utf-8", "replace")


def files_of(folder) -> dict:
    "Every file under `folder` (relative name -> bytes), but the run lock, whose content names its last holder."
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != ".lock"}
