"""A small deterministic training run for the resume tests, driven through the Python API in a subprocess.

python tests/system/tiny_training.py RUN_DIR [--steps N] [--resume] [--forget PART] [--kill-at-save STEP]

--forget PART        resume without restoring PART (optimizer, rng, data): the negative controls
--kill-at-save STEP  SIGKILL this process in the middle of writing the checkpoint of STEP (fault injection)
"""
import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import codex_nb.checkpoint as ck
from codex_nb.config import ModelConfig, TrainingConfig
from codex_nb.learner import GradientClip, Learner, MetricsLogger, NaNGuard, TokenBatches
from codex_nb.models import build_gpt
from codex_nb.repro import seed_everything, set_deterministic

ap = argparse.ArgumentParser()
ap.add_argument("run_dir")
ap.add_argument("--steps", type=int, default=24)
ap.add_argument("--resume", action="store_true")
ap.add_argument("--forget", default=None)
ap.add_argument("--kill-at-save", type=int, default=None)
ap.add_argument("--modern", action="store_true", help="the modern recipe's options: Muon, rope, rmsnorm, ReLU², QK-norm, untied zero-initialised head, soft-capping, wsd, bf16")
a = ap.parse_args()

torch.set_num_threads(1)
set_deterministic(True)
seed_everything(0)
run = Path(a.run_dir)
stream = np.tile(np.random.default_rng(0).integers(0, 64, 211), 100).astype(np.uint16)
MODERN_MODEL = dict(pos_embedding="rope", norm="rmsnorm", bias=False, mlp="relu2", qk_norm=True, tie_embeddings=False, zero_init=True, logit_softcap=30.0)
MODERN_TRAINING = dict(optimizer="muon", schedule="wsd", precision="bf16")
model = build_gpt(ModelConfig(n_layer=2, n_head=2, n_embd=32, block_size=32, vocab_size=64, dropout=0.1, **(MODERN_MODEL if a.modern else {})))
cfg = TrainingConfig(max_steps=a.steps, batch_size=4, grad_accum=3, lr=1e-2, min_lr=1e-3, warmup_steps=4, log_every=1,
                     **(MODERN_TRAINING if a.modern else {"precision": "fp32"}))
learn = Learner(model, TokenBatches(stream, 32, 4, seed=7), cfg)
mgr = ck.CheckpointManager(run / "checkpoints", keep_last=2, keep_best=1, metric="train/loss")
learn.add_cbs([GradientClip(1.0), NaNGuard(), MetricsLogger(run / "metrics.ndjson", every=1), ck.Checkpointer(mgr, every=3)])

if a.kill_at_save is not None:  # die after the model files are written, before SHA256SUMS and the rename
    real = ck.write_sums
    def dying(folder):
        if folder.name.startswith(f".tmp-step-{a.kill_at_save:08d}"): os.kill(os.getpid(), signal.SIGKILL)
        real(folder)
    ck.write_sums = dying

if a.resume:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        latest = mgr.load_latest(quarantine=True)
    if latest is not None:
        parts = tuple(p for p in ("optimizer", "rng", "data", "callbacks") if p != a.forget)
        ck.load_checkpoint(learn, latest, restore=parts, verify=False)
        print(f"resumed from {latest.name}", file=sys.stderr, flush=True)
learn.fit()
print("done", learn.step, flush=True)
