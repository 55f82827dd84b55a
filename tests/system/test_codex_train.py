"""`codex-train` through the real command: SIGKILL and SIGTERM resume bit-identically, corrupt and malicious
checkpoints are handled, one run owns a folder, and bad input exits 2 touching nothing."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from codex_nb.learner import read_metrics

from conftest import BIN, TEST_ENV, TINY, assert_usage_error, run

TRAIN = BIN / "codex-train"
STEPS = 60
COMMON = [f"training.max_steps={STEPS}", "checkpoint.every=10", "training.eval_every=20", "--quiet"]


def args(tmp, name, *extra):
    return [TRAIN, TINY, f"run.dir={tmp / name}", f"run.root={tmp / 'runs'}", *COMMON, *extra]


def start(tmp, name, *extra):
    return subprocess.Popen([str(a) for a in args(tmp, name, *extra)], cwd=tmp, env={**os.environ, **TEST_ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(tmp, name, *extra, expect=0):
    r = run(args(tmp, name, *extra), cwd=tmp)
    assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
    return r


def final_weights(run_dir):
    ck = Path(run_dir) / "checkpoints"
    return (ck / (ck / "LATEST").read_text().strip() / "model.safetensors").read_bytes()


def losses(run_dir):
    return {k: v["loss"] for k, v in read_metrics(Path(run_dir) / "metrics.ndjson").items()}


def wait_for_step(p, run_dir, step, timeout=120):
    log = Path(run_dir) / "metrics.ndjson"
    end = time.time() + timeout
    while time.time() < end:
        if p.poll() is not None: return False
        if log.exists() and f'"step": {step},' in log.read_text(): return True
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    "One uninterrupted reference run; its data cache (run.root) is shared by the tests of this module."
    tmp = tmp_path_factory.mktemp("train")
    finish(tmp, "reference")
    return tmp, final_weights(tmp / "reference"), losses(tmp / "reference")


def test_sigterm_checkpoints_and_resumes_exactly(shared):
    tmp, weights, ref_losses = shared
    p = start(tmp, "term")
    assert wait_for_step(p, tmp / "term", 13)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "--resume-from auto" in err
    stopped = int((tmp / "term" / "checkpoints" / "LATEST").read_text().strip()[5:])
    assert 13 <= stopped < STEPS and stopped % 10 != 0  # a checkpoint of the step it stopped at, not a scheduled one
    finish(tmp, "term", "--resume-from", "auto")
    assert final_weights(tmp / "term") == weights
    assert losses(tmp / "term") == ref_losses


def test_flipped_byte_in_newest_checkpoint_falls_back_naming_it(shared):
    tmp, weights, _ = shared
    p = start(tmp, "flip")
    assert wait_for_step(p, tmp / "flip", 35)
    p.send_signal(signal.SIGKILL); p.wait()
    ck = tmp / "flip" / "checkpoints"
    newest = sorted(ck.glob("step-*"))[-1]
    f = newest / "model.safetensors"
    raw = bytearray(f.read_bytes()); raw[-10] ^= 0x40; f.write_bytes(bytes(raw))
    r = finish(tmp, "flip", "--resume-from", "auto")
    assert f"skipping checkpoint {newest.name}" in r.stderr and "corrupt" in r.stderr
    assert (ck / f".corrupt-{newest.name}").is_dir()
    assert final_weights(tmp / "flip") == weights


def test_second_run_on_a_folder_exits_2_and_the_first_finishes(shared):
    tmp, _, _ = shared
    p = start(tmp, "busy", "training.max_steps=600", "checkpoint.every=100")  # long enough to be busy
    assert wait_for_step(p, tmp / "busy", 2)
    second = run(args(tmp, "busy", "training.max_steps=600", "checkpoint.every=100", "--resume-from", "auto"), cwd=tmp)
    assert_usage_error(second, "codex-train", "is in use by codex-train pid")
    assert p.poll() is None, "the test needs the first run still going when the second one tries"
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert (tmp / "busy" / "checkpoints" / "LATEST").read_text() == "step-00000600\n"


def snapshot(d):
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in sorted(Path(d).rglob("*"))}


def test_bad_input_exits_2_and_touches_nothing(shared):
    tmp, _, _ = shared
    before = snapshot(tmp / "reference")
    cases = [
        ([TRAIN, tmp / "missing.yaml", f"run.dir={tmp / 'x1'}"], "config file not found"),
        ([TRAIN, TINY, "training.max_steps=abc", f"run.dir={tmp / 'x2'}"], "could not be converted to Integer"),
        ([TRAIN, TINY, f"run.dir={tmp / 'reference'}"], "holds checkpoints: continue it with --resume-from auto"),
        ([TRAIN, TINY, f"run.dir={tmp / 'reference'}", "--resume-from", str(tmp / "nope")], "not a checkpoint"),
        (args(tmp, "reference", "training.lr=0.5", "--resume-from", "auto"), "config.yaml differs in training.lr: resume"),
        (args(tmp, "reference", "training.max_steps=10", "--resume-from", "auto"), "extended, not shortened"),
        ([TRAIN, TINY, "--resume-from"], "expected one argument"),
    ]
    (tmp / "afile").write_text("x")
    cases.append(([TRAIN, TINY, f"run.dir={tmp / 'afile'}"], "is a file, not a folder"))
    for argv, needle in cases:
        assert_usage_error(run(argv, cwd=tmp), "codex-train", needle)
    assert snapshot(tmp / "reference") == before
    assert not (tmp / "x1").exists() and not (tmp / "x2").exists()
    assert (tmp / "afile").read_text() == "x"


def test_finished_run_resume_is_a_no_op_and_a_larger_max_steps_extends_it(shared, tmp_path):
    tmp, _, _ = shared
    r = finish(tmp, "reference", "--resume-from", "auto")
    assert "already finished at step 60" in r.stdout
    import shutil
    shutil.copytree(tmp / "reference", tmp / "extended")
    r = run([TRAIN, f"run.dir={tmp / 'extended'}", f"run.root={tmp / 'runs'}", "training.max_steps=70", "--quiet",
             "--resume-from", "auto"], cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert (tmp / "extended" / "checkpoints" / "LATEST").read_text() == "step-00000070\n"
    assert "max_steps: 70" in (tmp / "extended" / "config.yaml").read_text()


def test_train_main_called_from_a_worker_thread_trains_like_the_command(shared):
    "Signal handlers exist only in the main thread: a run hosted by a thread (nbdev-test, a server) trains without them."
    import threading

    from codex_nb.cli import train_main
    tmp, weights, _ = shared
    rc = []
    t = threading.Thread(target=lambda: rc.append(train_main([str(a) for a in args(tmp, "threaded")[1:]])))
    t.start(); t.join()
    assert rc == [0]
    assert final_weights(tmp / "threaded") == weights  # the same run as the reference, bit for bit
