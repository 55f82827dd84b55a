"""`codex-train` with its default callbacks against a bare PyTorch loop, on the same prepared stdlib shards.

Both train the same gpt (4 layers, 4 heads, width 128, block 64, batch 12, vocab 4096, fp32) from the same seed on
the same batches (the run's own sampler). codex-train runs as a user runs it, with progress bar, metrics log,
clipping, NaN guard, evaluation every 200 steps and a checkpoint every 100; its tokens/s is the training tokens
over the wall time between its first and last metrics lines (so start-up and data preparation are excluded,
evaluation and checkpoint writes included). The bare loop is timed over the same steps.

Usage: python bench/bench_train_cli.py [--steps 400] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from codex_nb.config import load_config  # noqa: E402
from codex_nb.data import read_tokens  # noqa: E402
from codex_nb.learner import TokenBatches, make_optimizer  # noqa: E402
from codex_nb.models import build_gpt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ["model.n_layer=4", "model.n_head=4", "model.n_embd=128", "model.block_size=64", "training.batch_size=12",
             "tokenizer.vocab_size=4096", "training.eval_every=200", "checkpoint.every=100", "training.log_every=10",
             "tracking.enabled=false", "training.device=cpu", "seed=0"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    ov = OVERRIDES + [f"training.max_steps={a.steps}", f"training.num_threads={a.threads}"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
        r = subprocess.run([sys.executable, "-m", "codex_nb", "train", str(ROOT / "configs/gpt2-adamw.yaml"), *ov,
                            f"run.root={tmp}/runs", f"run.dir={tmp}/run"], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
        lines = [json.loads(x) for x in Path(tmp, "run", "metrics.ndjson").read_text().splitlines()]
        train = [x for x in lines if x["split"] == "train"]
        cfg = load_config(Path(tmp, "run", "config.yaml"))
        per_step = cfg.training.batch_size * cfg.training.grad_accum * cfg.model.block_size
        elapsed = sum(10 * per_step / x["tokens_per_s"] for x in train[1:])  # intervals after the first line
        ours = (len(train) - 1) * 10 * per_step / elapsed
        manifest = json.loads(Path(tmp, "run", "data", "manifest.json").read_text())
        sh = manifest["shards"]
        toks = read_tokens(Path(sh["dir"]) / sh["splits"]["train"]["file"], sh["splits"]["train"]["dtype"])
        torch.set_num_threads(a.threads)
        torch.manual_seed(0)
        model = build_gpt(cfg.model)
        opt = make_optimizer(model, cfg.training, torch.device("cpu"))
        data = TokenBatches(toks, cfg.model.block_size, cfg.training.batch_size, seed=cfg.seed)
        for _ in range(10):  # same warm-up as the run's first logged interval
            x, y = next(data); model(x, labels=y).loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        for _ in range(a.steps - 10):
            x, y = next(data); model(x, labels=y).loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        bare = (a.steps - 10) * per_step / (time.perf_counter() - t0)
    print(f"machine: {machine()}; torch {torch.__version__}, {a.threads} threads")
    print(f"gpt 4x128, block 64, batch 12, vocab 4096, stdlib shards, {a.steps} steps")
    print(f"  bare loop    {bare:8.0f} tokens/s")
    print(f"  codex-train  {ours:8.0f} tokens/s (progress, metrics, clipping, NaN guard, eval every 200, checkpoint every 100)"
          f" = {ours / bare:.3f}x bare (target >= 0.95x)")


if __name__ == "__main__":
    main()
