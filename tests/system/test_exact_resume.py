"""Exact resume through real processes: SIGKILL at random moments, resume from the newest checkpoint, and the
final weights are byte-identical to an uninterrupted run with the same loss at every step; negative controls
show that each restored part is needed. Plus fault injection during a checkpoint write."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codex_nb.learner import read_metrics

from conftest import ROOT, TEST_ENV, tiny_model

SCRIPT = ROOT / "tests" / "system" / "tiny_training.py"
STEPS = 24


def start(run_dir, *args):
    return subprocess.Popen([sys.executable, SCRIPT, run_dir, "--steps", str(STEPS), *map(str, args)],
                            env={**os.environ, **TEST_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(run_dir, *args):
    p = start(run_dir, *args)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return err


def final_weights(run_dir):
    ck = Path(run_dir) / "checkpoints"
    return (ck / (ck / "LATEST").read_text().strip() / "model.safetensors").read_bytes()


def train_losses(run_dir):
    return {step: rec["loss"] for (split, step), rec in read_metrics(Path(run_dir) / "metrics.ndjson").items() if split == "train"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("reference")
    finish(d)
    return final_weights(d), train_losses(d)


def kill_when_step_logged(p, run_dir, step, extra_delay):
    "SIGKILL `p` shortly after `step` appears in its metrics log (so anywhere in the next step, mid-accumulation or mid-save)."
    log = Path(run_dir) / "metrics.ndjson"
    deadline = time.time() + 120
    while time.time() < deadline:
        if p.poll() is not None: return False
        if log.exists() and f'"step": {step},' in log.read_text(): break
        time.sleep(0.005)
    time.sleep(extra_delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return True


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_then_resume_is_bit_identical(seed, reference, tmp_path):
    rnd = random.Random(seed)
    kills = sorted(rnd.sample(range(2, STEPS - 2), 2))
    for step in kills:  # killed twice, at random points, each time resumed from the newest checkpoint
        p = start(tmp_path, "--resume")
        assert kill_when_step_logged(p, tmp_path, step, rnd.uniform(0, 0.05)), "the run ended before it could be killed"
    err = finish(tmp_path, "--resume")
    assert "resumed from step-" in err
    weights, losses = reference
    assert final_weights(tmp_path) == weights
    assert train_losses(tmp_path) == losses


def test_the_modern_recipe_resumes_bit_identically_after_sigkill_and_needs_its_muon_state(tmp_path):
    "Every option of the modern recipe (Muon + AdamW state, rope, rmsnorm, ReLU², QK-norm, untied head, soft-cap, wsd, bf16)."
    finish(tmp_path / "ref", "--modern")
    p = start(tmp_path / "killed", "--resume", "--modern")
    assert kill_when_step_logged(p, tmp_path / "killed", 11, 0.01)
    assert "resumed from step-" in finish(tmp_path / "killed", "--resume", "--modern")
    assert final_weights(tmp_path / "killed") == final_weights(tmp_path / "ref")
    assert train_losses(tmp_path / "killed") == train_losses(tmp_path / "ref")
    p = start(tmp_path / "forgot", "--modern")
    assert kill_when_step_logged(p, tmp_path / "forgot", 11, 0.0)
    finish(tmp_path / "forgot", "--resume", "--modern", "--forget", "optimizer")  # negative control: Muon's momentum and AdamW's moments
    assert final_weights(tmp_path / "forgot") != final_weights(tmp_path / "ref")


@pytest.mark.parametrize("forget", ["rng", "data", "optimizer"])
def test_resume_without_each_part_differs(forget, reference, tmp_path):
    p = start(tmp_path)
    assert kill_when_step_logged(p, tmp_path, 10, 0.0)
    finish(tmp_path, "--resume", "--forget", forget)
    assert final_weights(tmp_path) != reference[0], f"leaving {forget} out should change the run"


def test_kill_during_save_keeps_previous_checkpoint(reference, tmp_path):
    p = start(tmp_path, "--kill-at-save", 9)
    p.wait(timeout=300)
    assert p.returncode == -signal.SIGKILL
    ck = tmp_path / "checkpoints"
    assert not (ck / "step-00000009").exists()
    assert list(ck.glob(".tmp-step-00000009-*")), "the interrupted write should have been in a temporary folder"
    assert (ck / "LATEST").read_text() == "step-00000006\n"
    err = finish(tmp_path, "--resume")
    assert "resumed from step-00000006" in err
    assert not list(ck.glob(".tmp-*"))
    assert final_weights(tmp_path) == reference[0]


def _loader_run(tmp_path, make_loader, stop_at=None):
    "Train a tiny gpt for 8 steps on `make_loader()`; with `stop_at`, checkpoint there and continue in a fresh learner and loader."
    import torch
    from codex_nb.checkpoint import CheckpointManager, load_checkpoint
    from codex_nb.config import TrainingConfig
    from codex_nb.learner import Learner
    from codex_nb.models import build_gpt
    torch.manual_seed(0)
    cfg = TrainingConfig(max_steps=stop_at or 8, batch_size=4, warmup_steps=0, schedule="constant")  # the same lr, stopped early or not
    learn = Learner(build_gpt(tiny_model()), make_loader(), cfg)
    learn.fit()
    if stop_at:
        folder = CheckpointManager(tmp_path / "ck").save(learn)
        torch.manual_seed(123)  # the resumed run must not depend on the process's RNG
        learn = Learner(build_gpt(tiny_model()), make_loader(), TrainingConfig(max_steps=8, batch_size=4, warmup_steps=0, schedule="constant"))
        load_checkpoint(learn, folder)
        learn.fit()
    return {k: v.clone() for k, v in learn.model.state_dict().items()}


def test_a_stateful_dataloader_resumes_bit_exactly(tmp_path):
    "Any iterable of batches trains; torchdata's StatefulDataLoader (state_dict / load_state_dict) resumes exactly; a plain DataLoader does not, and says so."
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from torchdata.stateful_dataloader import StatefulDataLoader
    windows = TensorDataset(torch.randint(0, 40, (64, 16), generator=torch.Generator().manual_seed(1)))
    def make(cls): return lambda: cls(windows, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(2),
                                      collate_fn=lambda rows: torch.stack([r[0] for r in rows]))
    ref = _loader_run(tmp_path / "a", make(StatefulDataLoader))
    resumed = _loader_run(tmp_path / "b", make(StatefulDataLoader), stop_at=5)  # mid-epoch: 16 batches an epoch
    assert all(torch.equal(ref[k], resumed[k]) for k in ref)
    with pytest.warns(UserWarning, match="no state_dict"):
        plain = _loader_run(tmp_path / "c", make(DataLoader), stop_at=5)  # negative control: replays the epoch's first batches
    assert not all(torch.equal(ref[k], plain[k]) for k in ref)
