"""`codex_nb.run.train`, the pipeline behind `codex-train`, called in-process: it trains, a finished run resumed is a
no-op, the command gives the same weights bit for bit, and the process is left as it was (threads, determinism,
signal handlers, logging), so a notebook can call it again."""
import logging
import signal
import sys
from pathlib import Path

import pytest
import torch

from codex_nb.cli import train_main
from codex_nb.learner import Callback, read_metrics
from codex_nb.registry import callbacks
from codex_nb.run import RunResult, summary, train

from conftest import TINY, call_main, files_of, run

STEPS = 12


def common(tmp):
    return [f"run.root={tmp / 'runs'}", f"training.max_steps={STEPS}", "checkpoint.every=6", "training.eval_every=6"]


def weights(result_or_dir):
    d = Path(result_or_dir.run_dir if isinstance(result_or_dir, RunResult) else result_or_dir) / "checkpoints"
    return (d / (d / "LATEST").read_text().strip() / "model.safetensors").read_bytes()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    return tmp, train(str(TINY), f"run.dir={tmp / 'api'}", *common(tmp), progress=False)


def test_train_returns_the_run_and_resume_auto_on_a_finished_run_does_nothing(trained):
    tmp, r = trained
    assert (r.step, r.checkpoint, r.preempted, r.finished_already) == (STEPS, tmp / "api" / "checkpoints" / f"step-{STEPS:08d}", False, False)
    assert set(r.metrics) == {"loss", "perplexity", "token_accuracy", "bits_per_byte", "scope"} and r.metrics["loss"] > 0
    assert r.metrics["scope"] == "whole split"  # the final evaluation scores every validation token once
    assert r.mlflow_run_id is None  # tracking off in the tiny recipe
    before = files_of(tmp / "api")
    again = train(str(TINY), f"run.dir={tmp / 'api'}", *common(tmp), resume_from="auto", progress=False)
    assert (again.finished_already, again.step, again.checkpoint) == (True, STEPS, r.checkpoint)
    assert summary(again) == f"{tmp / 'api'}: the run already finished at step {STEPS}; nothing to do"
    assert files_of(tmp / "api") == before


def test_codex_train_gives_the_same_weights_as_train(trained):
    tmp, r = trained
    code, out, err = call_main(train_main, [str(TINY), f"run.dir={tmp / 'cli'}", *common(tmp), "--quiet"])
    assert code == 0, err
    assert out.startswith(f"finished {tmp / 'cli'} at step {STEPS}\n")
    assert weights(tmp / "cli") == weights(r)


class Probe(Callback):
    "Records, during the fit, what the run set in the process."
    seen = []
    def after_step(self):
        if self.learn.step == 1: Probe.seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), signal.getsignal(signal.SIGTERM)))


def test_train_twice_leaves_the_process_as_it_found_it(trained):
    tmp, _ = trained
    callbacks.register("test-probe", Probe, origin="tests")
    def mine(signum, frame): pass
    old = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    log = logging.getLogger("codex_nb")
    old_log = list(log.handlers), log.level, list(logging.getLogger().handlers)
    try:
        torch.set_num_threads(3); torch.use_deterministic_algorithms(False)  # unlike the recipe's 1 thread, deterministic
        signal.signal(signal.SIGTERM, mine); signal.signal(signal.SIGINT, mine)
        state = lambda: (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), signal.getsignal(signal.SIGTERM),
                         signal.getsignal(signal.SIGINT), list(log.handlers), log.level, list(logging.getLogger().handlers))
        before = state()
        for name in ("twice-1", "twice-2"):
            r = train(str(TINY), f"run.dir={tmp / name}", *common(tmp), "training.max_steps=3", "training.callbacks=[test-probe]", progress=False)
            assert r.step == 3
            assert state() == before
        assert len(Probe.seen) == 2 and all(s[:2] == (1, True) and s[2] is not mine for s in Probe.seen)  # the run did change them
    finally:
        torch.set_num_threads(old[0]); torch.use_deterministic_algorithms(old[1])
        signal.signal(signal.SIGTERM, old[2]); signal.signal(signal.SIGINT, old[3])
        callbacks._items.pop("test-probe", None); callbacks._library.pop("test-probe", None)
    assert (list(log.handlers), log.level, list(logging.getLogger().handlers)) == old_log


def test_bad_requests_raise_and_touch_nothing(trained):
    from codex_nb.config import UsageError
    tmp, _ = trained
    before = files_of(tmp / "api")
    for extra, needle in [((), "holds checkpoints"), (("training.lr=0.5",), "differs in training.lr")]:
        with pytest.raises(UsageError, match=needle):
            train(str(TINY), f"run.dir={tmp / 'api'}", *common(tmp), *extra, resume_from="auto" if extra else None)
    assert files_of(tmp / "api") == before


def test_eval_metrics_by_name_reach_the_evaluation_and_unknown_names_are_refused(trained):
    from codex_nb.config import ConfigError
    tmp, _ = trained
    r = train(str(TINY), f"run.dir={tmp / 'metrics'}", *common(tmp), "training.max_steps=3", "training.eval_metrics=[loss, token_accuracy]",
              progress=False)
    assert set(r.metrics) - {"scope"} == {"loss", "token_accuracy"}
    code = ["line_exact_match", "edit_similarity", "parse_rate"]
    r = train(str(TINY), f"run.dir={tmp / 'code'}", *common(tmp), "training.max_steps=3", f"training.eval_metrics=[loss, {', '.join(code)}]",
              "training.code_lines=6", "training.code_functions=3", "monitor.plots=true", "tracking.enabled=true", progress=False)
    assert (r.metrics["line_cases"], r.metrics["function_cases"]) == (6, 3) and set(code) <= set(r.metrics)
    assert all(k in read_metrics(r.run_dir / "metrics.ndjson")[("val", 3)] for k in code)  # the last evaluation's line
    from mlflow.tracking import MlflowClient
    logged = MlflowClient(f"sqlite:///{tmp / 'runs' / 'mlflow.db'}").get_run(r.mlflow_run_id).data.metrics
    assert {f"val/{k}" for k in code} <= set(logged) and (r.run_dir / "plots" / "code.png").is_file()
    with pytest.raises(ConfigError, match=r"unknown metric 'perplexty' \(did you mean 'perplexity'\?\)"):
        train(str(TINY), f"run.dir={tmp / 'bad'}", *common(tmp), "training.eval_metrics=[loss, perplexty]")
    with pytest.raises(ConfigError, match="unknown callback 'no-such-callback'"):
        train(str(TINY), f"run.dir={tmp / 'bad'}", *common(tmp), "training.callbacks=[no-such-callback]")
    assert not (tmp / "bad").exists()


def test_the_package_exports_the_notebook_names_lazily():
    "`import codex_nb` loads no torch; every public name resolves to its chapter's object; an unknown one is an AttributeError."
    code = ("import sys, codex_nb; assert 'torch' not in sys.modules, 'torch at import'\n"
            "import importlib\n"
            "for n, mod in codex_nb._PUBLIC.items(): assert getattr(codex_nb, n) is getattr(importlib.import_module('codex_nb.' + mod), n), n\n"
            "assert 'torch' in sys.modules and set(codex_nb._PUBLIC) <= set(dir(codex_nb))\n"
            "try: codex_nb.no_such_name\nexcept AttributeError as e: print('refused', e)\n")
    r = run([sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr
    assert "refused module 'codex_nb' has no attribute 'no_such_name'" in r.stdout


def test_the_package_lists_every_lazy_name_in_all():
    import codex_nb
    assert set(codex_nb.__all__) == {"__version__", *codex_nb._PUBLIC}
