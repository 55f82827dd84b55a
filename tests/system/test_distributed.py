"""Data-parallel training under torchrun (gloo on CPU): N processes see exactly the global batches one process
would, and their gradient and logged loss are the global batch's, weighted by tokens."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import BIN, ROOT, TEST_ENV, TINY, run

from codex_nb.checkpoint import RunLock
from codex_nb.io import write_sums
from codex_nb.learner import read_metrics

SCRIPT = ROOT / "tests" / "system" / "ddp_learner.py"


def train(tmp_path, name, *args, nproc=1):
    out = tmp_path / f"{name}.json"
    cmd = [BIN / "torchrun", "--standalone", f"--nproc_per_node={nproc}", SCRIPT] if nproc > 1 else [sys.executable, SCRIPT]
    r = run([*cmd, out, *args], cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(out.read_text())


def test_two_processes_of_batch_4_train_bit_for_bit_like_one_of_batch_4_with_grad_accum_2(tmp_path):
    ddp = train(tmp_path, "ddp", "--batch", "4", nproc=2)
    accum = train(tmp_path, "accum", "--batch", "4", "--accum", "2")
    assert ddp["world_size"] == 2 and ddp["tokens"] == accum["tokens"] == 8 * 31  # the global batch's predicted tokens: 31 per 32-token window
    assert ddp["losses"] == accum["losses"] and ddp["weights"] == accum["weights"]
    single4 = train(tmp_path, "single4", "--batch", "4")  # negative control: half the batch is another run
    assert single4["losses"] != ddp["losses"]


def test_the_modern_recipe_on_two_processes_trains_bit_for_bit_like_one_with_grad_accum_2(tmp_path):
    "Muon sees the whole (all-reduced) gradient: with every option of the modern recipe, DDP equals accumulation on one process."
    ddp = train(tmp_path, "ddp", "--batch", "4", "--modern", "--steps", "30", nproc=2)
    accum = train(tmp_path, "accum", "--batch", "4", "--accum", "2", "--modern", "--steps", "30")
    assert ddp["losses"] == accum["losses"] and ddp["weights"] == accum["weights"]
    assert accum["losses"]["30"] < accum["losses"]["1"] - 0.5  # it trained
    plain = train(tmp_path, "plain", "--batch", "4", "--accum", "2", "--steps", "30")  # negative control: the options change the run
    assert plain["losses"] != accum["losses"]


def test_two_processes_of_batch_4_match_one_process_of_batch_8_within_1e_4(tmp_path):
    ddp = train(tmp_path, "ddp", "--batch", "4", nproc=2)
    one = train(tmp_path, "one", "--batch", "8")
    assert ddp["losses"].keys() == one["losses"].keys()
    diff = max(abs(ddp["losses"][s] - one["losses"][s]) for s in one["losses"])
    assert diff < 1e-4, diff  # the same windows; fp32 sums 8 rows in another order than 4 + 4
    assert one["losses"]["60"] < one["losses"]["1"] - 0.5  # and it trained


def test_two_processes_mask_the_global_batch_as_one_process_of_batch_8_does(tmp_path):
    ddp = train(tmp_path, "ddp", "--batch", "4", "--mlm", "--steps", "30", nproc=2)
    one = train(tmp_path, "one", "--batch", "8", "--mlm", "--steps", "30")
    diff = max(abs(ddp["losses"][s] - one["losses"][s]) for s in one["losses"])
    assert diff < 1e-4, diff  # the same windows and the same masks: each rank draws the global batch's and keeps its rows
    half = train(tmp_path, "half", "--batch", "4", "--mlm", "--steps", "30")  # negative control
    assert max(abs(half["losses"][s] - one["losses"][s]) for s in one["losses"]) > 1e-3


# --- codex-train under torchrun -------------------------------------------------------------------------------------



def codex_train(run_dir, *args, nproc=1, timeout=600):
    "codex-train on the tiny recipe, alone or under torchrun with `nproc` CPU processes."
    head = [BIN / "torchrun", "--standalone", f"--nproc_per_node={nproc}", "-m", "codex_nb", "train"] if nproc > 1 else [BIN / "codex-train"]
    return run([*head, TINY, f"run.dir={run_dir}", "--quiet", *args], timeout=timeout)


def losses(run_dir, split="train"):
    return {s: r["loss"] for (sp, s), r in sorted(read_metrics(run_dir / "metrics.ndjson").items()) if sp == split}


def weights(run_dir, step):
    return hashlib.sha256((run_dir / "checkpoints" / f"step-{step:08d}" / "model.safetensors").read_bytes()).hexdigest()


def test_codex_train_on_two_processes_of_batch_4_logs_one_process_of_batch_8_within_1e_4(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    r = codex_train(two, "training.batch_size=4", "training.max_steps=40", nproc=2)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("finished") == 1  # rank 0 speaks for both
    r = codex_train(one, "training.batch_size=8", "training.max_steps=40")
    assert r.returncode == 0, r.stderr
    a, b = losses(two), losses(one)
    assert a.keys() == b.keys() == set(range(1, 41))
    assert max(abs(a[s] - b[s]) for s in b) < 1e-4
    va, vb = losses(two, "val"), losses(one, "val")  # each rank evaluates its slice; totals summed over ranks
    assert va.keys() == vb.keys() == {40} and abs(va[40] - vb[40]) < 1e-4
    lines = (two / "metrics.ndjson").read_text().splitlines()
    assert len(lines) == len(a) + len(va)  # one writer: no line twice
    meta = json.loads((two / "checkpoints" / "step-00000040" / "meta.json").read_text())
    assert (meta["world_size"], meta["global_batch"]) == (2, 8)
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())  # the same run folder, nothing per rank


ARGS = ["training.batch_size=4", "training.max_steps=60", "checkpoint.every=10", "checkpoint.keep_last=10"]


@pytest.fixture(scope="module")
def ref60(tmp_path_factory):
    "An uninterrupted two-process run of 60 steps."
    ref = tmp_path_factory.mktemp("ddp") / "ref"
    r = codex_train(ref, *ARGS, nproc=2)
    assert r.returncode == 0, r.stderr
    return ref


def launch(run_dir, until_step):
    "Start a two-process run of ARGS in the background; return torchrun's Popen once `until_step` is logged."
    cmd = [BIN / "torchrun", "--standalone", "--nproc_per_node=2", "-m", "codex_nb", "train", TINY, f"run.dir={run_dir}", "--quiet", *ARGS]
    p = subprocess.Popen([str(c) for c in cmd], env={**os.environ, **TEST_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline:
        if (run_dir / "metrics.ndjson").is_file() and until_step in {s for _, s in read_metrics(run_dir / "metrics.ndjson")}: break
        time.sleep(0.05)
    return p


def test_sigkilled_torchrun_takes_its_workers_and_the_run_resumes_exactly(tmp_path, ref60):
    ref, run_dir = ref60, tmp_path / "killed"
    p = launch(run_dir, until_step=25)
    p.kill()  # SIGKILL to torchrun alone: its workers must not train on without it
    p.communicate()
    for _ in range(200):  # the lock frees when rank 0 is gone
        try:
            RunLock(run_dir).acquire().release()
            break
        except Exception: time.sleep(0.05)
    else: raise AssertionError("a worker outlived the SIGKILLed torchrun and still holds the run folder")
    done = max(int(c.name[5:]) for c in (run_dir / "checkpoints").glob("step-*"))
    assert 20 <= done < 60, done
    r = codex_train(run_dir, *ARGS, "--resume-from", "auto", nproc=2)
    assert r.returncode == 0, r.stderr
    assert losses(run_dir) == losses(ref)  # every step, bit for bit
    assert weights(run_dir, 60) == weights(ref, 60)


def test_sigterm_to_torchrun_stops_every_rank_after_one_step_with_its_checkpoint_and_resumes_exactly(tmp_path, ref60):
    run_dir = tmp_path / "stopped"
    p = launch(run_dir, until_step=15)
    p.send_signal(signal.SIGTERM)  # torchrun passes it on to both workers
    _, err = p.communicate(timeout=120)
    hint = [ln for ln in err.splitlines() if ln.startswith("stopped by SIGTERM")]
    assert len(hint) == 1, err  # rank 0 speaks
    step = int(hint[0].split(" at step ")[1].split()[0])
    assert "resume with: torchrun --nproc_per_node=2 -m codex_nb train " in hint[0] and hint[0].endswith("--resume-from auto")
    assert (run_dir / "checkpoints" / "LATEST").read_text().strip() == f"step-{step:08d}"
    assert max(losses(run_dir)) == step  # both ranks stopped after the same step, the one checkpointed
    r = codex_train(run_dir, *ARGS, "--resume-from", "auto", nproc=2)
    assert r.returncode == 0, r.stderr
    assert losses(run_dir) == losses(ref60) and weights(run_dir, 60) == weights(ref60, 60)


def test_two_process_checkpoint_resumes_on_one_process_with_grad_accum_2_and_refuses_three(tmp_path):
    args = ["training.batch_size=4", "training.max_steps=40", "checkpoint.every=20"]
    ref = tmp_path / "ref"
    assert codex_train(ref, *args, nproc=2).returncode == 0
    cut = tmp_path / "cut"  # the same run as if stopped after step 20
    shutil.copytree(ref, cut)
    shutil.rmtree(cut / "checkpoints" / "step-00000040")
    (cut / "checkpoints" / "LATEST").write_text("step-00000020\n")
    log = cut / "metrics.ndjson"
    log.write_text("".join(ln + "\n" for ln in log.read_text().splitlines() if json.loads(ln)["step"] <= 20))
    before = {p: p.read_bytes() for p in cut.rglob("*") if p.is_file()}
    r = codex_train(cut, *args, "--resume-from", "auto", nproc=3)  # 8 sequences do not split into 3 x 4
    assert r.returncode != 0 and "does not split" in r.stderr and r.stderr.count("does not split") == 1, r.stderr
    assert {p: p.read_bytes() for p in cut.rglob("*") if p.is_file()} == before  # refused before any work: nothing written
    r = codex_train(cut, *args, "--resume-from", "auto")
    assert r.returncode == 0, r.stderr
    assert "grad_accum 2 keeps the global batch of 8" in r.stderr
    assert losses(cut) == losses(ref) and weights(cut, 40) == weights(ref, 40)  # bit for bit
    meta = json.loads((cut / "checkpoints" / "step-00000040" / "meta.json").read_text())
    assert (meta["world_size"], meta["global_batch"], meta["config"]["training.grad_accum"]) == (1, 8, 2)
    neg = tmp_path / "neg"  # negative control: the recorded global batch is load-bearing
    shutil.copytree(cut, neg, ignore=shutil.ignore_patterns("step-00000040"))
    (neg / "checkpoints" / "LATEST").write_text("step-00000020\n")
    log = neg / "metrics.ndjson"
    log.write_text("".join(ln + "\n" for ln in log.read_text().splitlines() if json.loads(ln)["step"] <= 20))
    ck = neg / "checkpoints" / "step-00000020"
    meta = json.loads((ck / "meta.json").read_text())
    meta.update(world_size=1, global_batch=4)  # as if one process of batch 4 had written it
    (ck / "meta.json").write_text(json.dumps(meta))
    write_sums(ck)
    r = codex_train(neg, *args, "--resume-from", "auto")
    assert r.returncode == 0, r.stderr
    assert losses(neg)[21] != losses(ref)[21]


def test_a_run_folder_in_use_refuses_a_torchrun_launch_with_one_error_line(tmp_path):
    run_dir = tmp_path / "busy"
    with RunLock(run_dir):
        r = codex_train(run_dir, "training.max_steps=5", nproc=2)
    assert r.returncode != 0
    assert r.stderr.count("codex-train: error:") == 1 and "in use by" in r.stderr, r.stderr
    assert not (run_dir / "config.yaml").exists()


def cut_at(src, dst, step):
    "A copy of run `src` as if it had stopped after `step` (its later checkpoints and log lines gone)."
    shutil.copytree(src, dst)
    for ck in (dst / "checkpoints").glob("step-*"):
        if int(ck.name[5:]) > step: shutil.rmtree(ck)
    (dst / "checkpoints" / "LATEST").write_text(f"step-{step:08d}\n")
    log = dst / "metrics.ndjson"
    log.write_text("".join(ln + "\n" for ln in log.read_text().splitlines() if json.loads(ln)["step"] <= step))
    return dst


def test_fsdp_trains_like_ddp_and_its_checkpoints_resume_under_fsdp_exactly_and_on_one_process(tmp_path):
    args = ["training.batch_size=4", "training.max_steps=40", "checkpoint.every=20"]
    fsdp, ddp = tmp_path / "fsdp", tmp_path / "ddp"
    r = codex_train(fsdp, *args, "training.parallel=fsdp", nproc=2)
    assert r.returncode == 0, r.stderr
    assert codex_train(ddp, *args, nproc=2).returncode == 0
    a, b = losses(fsdp), losses(ddp)
    assert a.keys() == b.keys() == set(range(1, 41))
    assert max(abs(a[s] - b[s]) for s in b) < 1e-5  # the same arithmetic; the clipping norm is summed over shards
    again = cut_at(fsdp, tmp_path / "again", 20)
    r = codex_train(again, *args, "training.parallel=fsdp", "--resume-from", "auto", nproc=2)
    assert r.returncode == 0, r.stderr
    assert losses(again) == a and weights(again, 40) == weights(fsdp, 40)  # bit for bit
    one = cut_at(fsdp, tmp_path / "one", 20)  # the gathered checkpoint is the ordinary format: one process reads it
    r = codex_train(one, *args, "training.parallel=fsdp", "--resume-from", "auto")
    assert r.returncode == 0, r.stderr
    c = losses(one)
    assert max(abs(c[s] - a[s]) for s in a) < 1e-4


def test_a_torchrun_launch_without_run_dir_makes_one_timestamped_folder_for_every_rank(tmp_path):
    r = run([BIN / "torchrun", "--standalone", "--nproc_per_node=2", "-m", "codex_nb", "train", TINY, f"run.root={tmp_path}",
             "training.max_steps=3", "training.batch_size=4", "--quiet"], timeout=300)
    assert r.returncode == 0, r.stderr
    made = [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]  # .cache: shared data
    assert len(made) == 1 and (made[0] / "checkpoints" / "step-00000003").is_dir(), made
