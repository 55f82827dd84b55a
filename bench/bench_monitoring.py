"""Cost of monitoring and tracking: the same training run with and without the system sampler (1 s interval),
MLflow tracking (SQLite store), plots and a metrics line every step, measured side by side in one process.

Rounds alternate between the two setups so that a noisy neighbour affects each alike. Two figures: the steady
training throughput (tokens per second between the first and the last logged step: what a long run pays per
step), and the fixed cost at the start and the end of a run (connecting to the store, drawing the plots,
uploading artifacts), which a long run pays once.

Usage: python bench/bench_monitoring.py [--steps 300] [--rounds 5] [--threads 2]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from codex_nb.config import Config, ModelConfig, TrainingConfig  # noqa: E402
from codex_nb.learner import Learner, MetricsLogger, TokenBatches  # noqa: E402
from codex_nb.models import build_gpt  # noqa: E402
from codex_nb.monitoring import Plotter, SystemMonitor  # noqa: E402
from codex_nb.tracking import MLflowTracker  # noqa: E402


def fit(steps, monitored, tmp, i):
    torch.manual_seed(0)
    tokens = np.random.default_rng(0).integers(0, 512, 400_000).astype(np.uint16)
    model = build_gpt(ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=512))
    learn = Learner(model, TokenBatches(tokens, 64, 12), TrainingConfig(max_steps=steps, batch_size=12, device="cpu"), device="cpu")
    run = Path(tmp) / f"{'on' if monitored else 'off'}-{i}"
    cbs = [MetricsLogger(run / "metrics.ndjson", every=1)]
    if monitored:
        cfg = Config(); cfg.run.root = str(tmp); cfg.tracking.experiment = "bench"
        cbs += [SystemMonitor(run / "system.ndjson", interval=1.0), Plotter(run), MLflowTracker(cfg, run)]
    learn.add_cbs(cbs)
    t0 = time.perf_counter()
    learn.fit()
    total = time.perf_counter() - t0
    from codex_nb.io import read_ndjson
    tps = [r["tokens_per_s"] for r in read_ndjson(run / "metrics.ndjson") if r["split"] == "train"][10:]
    steady = statistics.median(tps)
    return steady, total - steps * 12 * 64 / steady  # tokens/s per step, seconds beyond the steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        fit(20, True, tmp, "warm"); fit(20, False, tmp, "warm")  # imports (mlflow, matplotlib) and the SQLite store set up
        on, off = [], []
        for i in range(a.rounds):
            off.append(fit(a.steps, False, tmp, i)); on.append(fit(a.steps, True, tmp, i))
    ratios = [x[0] / y[0] for x, y in zip(on, off)]
    med = lambda xs, j: statistics.median(x[j] for x in xs)
    print(f"# {machine()}, torch {torch.__version__}, {a.threads} threads; gpt 4x128, block 64, batch 12, {a.steps} steps x {a.rounds} rounds")
    print("| setup | steady tokens/s (median) | fixed cost per run (s) |\n| --- | --- | --- |")
    print(f"| metrics log only | {med(off, 0):.0f} | {med(off, 1):.2f} |")
    print(f"| + system sampler (1 s), MLflow (SQLite), plots | {med(on, 0):.0f} | {med(on, 1):.2f} |")
    print(f"\nsteady throughput ratio monitored / plain: median {statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
