"""Learner overhead and resume latency, each against a reference measured in the same run.

1. Overhead: the Learner with its default callbacks (progress bar, metrics log every 10 steps, gradient clipping,
   NaN guard, evaluation every 200 steps on 20 batches, a checkpoint every 100 steps) against a bare PyTorch loop
   training the same `gpt` (same initial weights, same batches, same optimizer — `make_optimizer`, so Muon + AdamW
   for a Muon recipe — and the same autocast) — tokens/s over the whole wall time, evaluation and checkpoints
   included. Rounds alternate between the two. `--recipe` takes the architecture, optimizer and precision of a
   config file (the model at a 64-token context, batch 12, as the bench always ran).
2. Resume: a ~10M-parameter model is trained briefly and checkpointed with its sampler far into the data
   (epoch 40); a fresh process then builds the model and learner, verifies and loads the newest checkpoint and
   completes the first resumed step. The time from the end of the imports (torch._dynamo included, which
   torch imports lazily in the first optimizer) to the end of that step is reported.

Usage: python bench/bench_learner.py [--steps 400] [--rounds 2] [--threads 2] [--recipe configs/default.yaml] [--out F.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from codex_nb.checkpoint import CheckpointManager, Checkpointer  # noqa: E402
from codex_nb.config import ModelConfig, TrainingConfig  # noqa: E402
from codex_nb.learner import Evaluator, GradientClip, Learner, MetricsLogger, NaNGuard, Progress, TokenBatches, make_optimizer  # noqa: E402
from codex_nb.models import build_gpt, resolve_dtype  # noqa: E402
from codex_nb.run import resolve_config  # noqa: E402

V, T, B = 4096, 64, 12
MCFG = ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=T, vocab_size=V)  # --recipe replaces it
TOKENS = np.random.default_rng(0).integers(0, V, 2_000_000).astype(np.uint16)


def bare(steps, cfg):
    torch.manual_seed(0)
    model = build_gpt(MCFG)
    opt = make_optimizer(model, cfg, torch.device("cpu"))
    data = TokenBatches(TOKENS, T, B, seed=1)
    dtype = resolve_dtype(cfg.precision, torch.device("cpu"))
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = next(data)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            loss = model(x, labels=y).loss
        loss.backward()
        opt.step(); opt.zero_grad(set_to_none=True)
    return steps * B * T / (time.perf_counter() - t0)


def learner(steps, cfg, tmp):
    torch.manual_seed(0)
    learn = Learner(build_gpt(MCFG), TokenBatches(TOKENS, T, B, seed=1), cfg)
    val = lambda: TokenBatches(TOKENS[:200_000], T, B, seed=2)
    learn.add_cbs([Progress(10), MetricsLogger(Path(tmp) / "metrics.ndjson", 10), GradientClip(1.0), NaNGuard(),
                   Evaluator(val, every=200, n_batches=20), Checkpointer(CheckpointManager(Path(tmp) / "ck"), every=100)])
    t0 = time.perf_counter()
    learn.fit()
    return steps * B * T / (time.perf_counter() - t0)


RESUME = """
import time, sys
import numpy as np, torch
import torch._dynamo  # imported lazily by the first optimizer: an import, so before the clock starts
from codex_nb.checkpoint import CheckpointManager
from codex_nb.config import ModelConfig, TrainingConfig
from codex_nb.learner import Learner, TokenBatches
from codex_nb.models import build_gpt
t0 = time.perf_counter()
torch.set_num_threads({threads})
tokens = np.memmap({tokens!r}, dtype=np.uint16, mode="r")
cfg = TrainingConfig(max_steps=10**6, batch_size=12, warmup_steps=0)
learn = Learner(build_gpt(ModelConfig(n_layer=6, n_head=6, n_embd=384, block_size=64, vocab_size=4096)),
                TokenBatches(tokens, 64, 12, seed=1), cfg)
meta = CheckpointManager({root!r}).resume(learn)
learn.cfg.max_steps = learn.step + 1
learn.fit()
print(f"RESUME {{time.perf_counter() - t0:.3f}} {{learn.data.sampler.state_dict()['epoch']}}")
"""


def resume_latency(threads, tmp):
    path = Path(tmp) / "tokens.bin"
    TOKENS.tofile(path)
    tokens = np.memmap(path, dtype=np.uint16, mode="r")
    torch.manual_seed(0)
    cfg = TrainingConfig(max_steps=10**6, batch_size=12, warmup_steps=0)
    learn = Learner(build_gpt(ModelConfig(n_layer=6, n_head=6, n_embd=384, block_size=64, vocab_size=4096)),
                    TokenBatches(tokens, 64, 12, seed=1), cfg)
    learn.cfg.max_steps = 2
    learn.fit()
    n = learn.data.sampler.n_windows
    learn.data.sampler.consumed = 40 * n + 123  # as if 40 epochs in: the resume must not depend on it
    mgr = CheckpointManager(Path(tmp) / "big")
    mgr.save(learn)
    size = sum(p.stat().st_size for p in mgr.steps()[-1].iterdir()) / 1e6
    out = subprocess.run([sys.executable, "-c", RESUME.format(threads=threads, tokens=str(path), root=str(Path(tmp) / "big"))],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    line = [x for x in out.stdout.splitlines() if x.startswith("RESUME")]
    assert line, out.stderr[-2000:]
    _, secs, epoch = line[0].split()
    from codex_nb.models import param_count
    return float(secs), int(epoch), param_count(learn.model), size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipe", help="a config file whose model, optimizer and precision both loops use (default: GPT-2 shape, AdamW, fp32)")
    ap.add_argument("--no-resume", action="store_true", help="measure the overhead only")
    ap.add_argument("--out", help="write the figures as JSON here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = TrainingConfig(max_steps=a.steps, batch_size=B, warmup_steps=0, schedule="constant", lr=1e-3, grad_clip=1.0, precision="fp32")
    if a.recipe:
        global MCFG
        rc = resolve_config(a.recipe, [])
        MCFG = ModelConfig(**{**rc.model.__dict__, "block_size": T, "vocab_size": V})
        t = rc.training
        cfg = TrainingConfig(max_steps=a.steps, batch_size=B, warmup_steps=0, schedule="constant", lr=t.lr, grad_clip=t.grad_clip,
                             optimizer=t.optimizer, muon_lr=t.muon_lr, muon_momentum=t.muon_momentum, precision=t.precision)
    speeds = {"bare": [], "learner": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            speeds["bare"].append(bare(a.steps, cfg))
            speeds["learner"].append(learner(a.steps, cfg, Path(tmp) / f"r{r}"))
        if not a.no_resume: secs, epoch, n_params, size = resume_latency(a.threads, tmp)
    b, l = statistics.median(speeds["bare"]), statistics.median(speeds["learner"])
    if a.out:
        Path(a.out).write_text(json.dumps({"machine": machine(), "torch_threads": a.threads, "date": time.strftime("%Y-%m-%d"),
                                           "command": " ".join(sys.argv), "recipe": a.recipe, "precision": resolve_dtype(cfg.precision, torch.device("cpu")).__repr__(),
                                           "optimizer": cfg.optimizer, "steps": a.steps, "speeds": speeds, "ratio_of_medians": l / b,
                                           "ratios": [x / y for x, y in zip(speeds["learner"], speeds["bare"])]}, indent=1) + "\n")
    print(f"machine: {machine()}; torch {torch.__version__}, {a.threads} threads")
    print(f"overhead: gpt 4x128, block {T}, batch {B}, {a.steps} steps x {a.rounds} rounds")
    print(f"  bare loop {b:8.0f} tokens/s  ({', '.join(f'{x:.0f}' for x in speeds['bare'])})")
    print(f"  Learner   {l:8.0f} tokens/s  ({', '.join(f'{x:.0f}' for x in speeds['learner'])})  = {l / b:.3f}x bare (target >= 0.95x)")
    if a.no_resume: return
    print(f"resume: {n_params / 1e6:.1f}M-parameter model, checkpoint {size:.0f} MB, sampler at epoch {epoch}: "
          f"load + first resumed step {secs:.2f} s after imports (target < 2 s)")


if __name__ == "__main__":
    main()
