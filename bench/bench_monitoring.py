"""Cost of monitoring and tracking, fixed costs included: the same training run with and without the system
sampler (1 s interval), MLflow tracking (SQLite store) and plots, timed as the total wall time of each run.

Runs come in pairs (plain, monitored; the order alternates by pair), a contention probe (a fixed matrix product)
is timed before each run, and a pair in which either probe is more than 15% slower than the quietest probe is
run again once, then reported as flagged. The overhead of a pair is monitored / plain - 1 of total wall time
(from `learn.fit()` starting to it returning: store connection, sampler thread, plots and artifact upload
included); the bench prints its mean with a 95% confidence interval over pairs, and says "below resolution" when
the interval covers zero. A metrics line every step is on in both setups.

Usage: python bench/bench_monitoring.py [--steps 300] [--pairs 8] [--threads 2] [--out bench/results/monitoring.json]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, mean_ci, probe  # noqa: E402

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
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/monitoring.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pairs, quiet = [], float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        fit(20, True, tmp, "warm"); fit(20, False, tmp, "warm")  # imports (mlflow, matplotlib) and the SQLite store set up
        for i in range(a.pairs):
            for attempt in range(2):
                order = (False, True) if i % 2 == 0 else (True, False)
                times, probes = {}, []
                for monitored in order:
                    probes.append(probe()); quiet = min(quiet, probes[-1])
                    times[monitored] = fit(a.steps, monitored, tmp, f"{i}-{attempt}")
                flagged = max(probes) > 1.15 * quiet
                pair = {"plain_s": times[False], "monitored_s": times[True], "overhead": times[True] / times[False] - 1,
                        "probes_s": probes, "flagged": flagged, "attempt": attempt}
                print(f"pair {i}: plain {pair['plain_s']:.2f} s, monitored {pair['monitored_s']:.2f} s, overhead {100 * pair['overhead']:+.2f}%"
                      + (" (probe slow)" if flagged else ""), flush=True)
                if flagged and attempt == 0: pair["discarded"] = True; pairs.append(pair); continue
                pairs.append(pair); break
    kept = [p for p in pairs if not p.get("discarded")]
    m, sd, h = mean_ci([p["overhead"] for p in kept])
    verdict = "below resolution" if h >= abs(m) else f"{100 * m:+.1f}%"
    summary = {"overhead_mean": m, "overhead_sd": sd, "overhead_ci95": h, "pairs": len(kept), "flagged": sum(p["flagged"] for p in kept),
               "plain_s": mean_ci([p["plain_s"] for p in kept]), "monitored_s": mean_ci([p["monitored_s"] for p in kept]), "verdict": verdict}
    result = {"machine": machine(), "torch": torch.__version__, "threads": a.threads, "steps": a.steps, "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(sys.argv), "pairs": pairs, "summary": summary}
    out = Path(__file__).resolve().parent.parent / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"# {machine()}, torch {torch.__version__}, {a.threads} threads; gpt 4x128, block 64, batch 12, {a.steps} steps, {len(kept)} pairs")
    print("| setup | total wall time per run, s (mean ± 95% CI) |\n| --- | --- |")
    print(f"| metrics log only | {summary['plain_s'][0]:.2f} ± {summary['plain_s'][2]:.2f} |")
    print(f"| + system sampler (1 s), MLflow (SQLite), plots | {summary['monitored_s'][0]:.2f} ± {summary['monitored_s'][2]:.2f} |")
    print(f"\noverhead of monitoring and tracking, total wall time: {100 * m:+.2f}% ± {100 * h:.2f}% (95% CI over {len(kept)} pairs): {verdict}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
