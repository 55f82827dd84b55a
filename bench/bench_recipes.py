"""Training recipes side by side on one split: quality at equal training time, time to reach a target, spread.

Every run is scored on the whole held-out split of the same prepared data (exact UTF-8 bytes, every token once, the
run's own final evaluation): `--set data.split_seed=N` keeps one split whatever the training seed. Recipes are
interleaved: round r trains every recipe with seed r, in an order that rotates by round, so a slow spell of the machine falls on all recipes alike. Before each run a contention probe
times a fixed matrix product; a run whose probe is more than 15% slower than the quietest probe of the bench is run
again once, and reported as flagged if it is still slow.

Training time leaves out every evaluation (the clock pauses for them); it includes data loading, checkpoints and
the callbacks a recipe runs. Evaluation time (the curve's points, periodic and final evaluations, the last checkpoint)
is reported apart. With `--equal-time`, every recipe after the first gets as many steps as fit in the
first recipe's training time (steps per second once running, measured in a calibration run of each), so the
comparison is at equal training time; `--curve N` scores the whole held-out split at N points of each run, from which the time to reach
`--target` bits per byte is read (linear between points).

A recipe is a config file, or `NAME: [FILE] [KEY=VALUE ...]` (a config with overrides, under a name); with
`--ladder` each recipe adds its overrides to the previous one's, so a run is an ablation, one change at a time.
`--keep-steps` lets a recipe train its own `max_steps` beside the others' equal time; `--budget` sets the equal time.
The runs behind the published figures (bench/README.md lists the screening runs too):

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_recipes.py --seeds 3 --equal-time --keep-steps configs/default.yaml \
        --calibrate 100 --curve 10 --target 2.0 --set data.split_seed=2024      # default vs gpt2-adamw vs default in fp32 (~50 min)
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_recipes.py --recipes configs/nanogpt-char.yaml --seeds 3 \
        --set data.curate=false --set data.split_seed=1337 --out bench/results/nanogpt-check.json   # the check against nanoGPT (~6 min)

Results go to `--out` (JSON: every run, the summary, the machine), and a markdown table to stdout.
"""
import argparse
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, mean_ci, probe  # noqa: E402

from codex_nb.data import split_tokens  # noqa: E402
from codex_nb.learner import Callback, split_windows  # noqa: E402
from codex_nb.metrics import evaluate_batches  # noqa: E402
from codex_nb.models import CPU_BF16_FLAGS, cpu_flags  # noqa: E402
from codex_nb.registry import callbacks  # noqa: E402
from codex_nb.run import resolve_config, train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@callbacks.register("bench-clock")
class Clock(Callback):
    "Training seconds with every evaluation left out, and the whole held-out split's bits per byte at `points` steps."
    order = 15  # before the Evaluator (20): the last step's clock stops before the final evaluation
    def __init__(self, out:str, points:int=0): self.out, self.points = Path(out), points
    def before_fit(self):
        self.t0, self.paused, self.curve, self.mark, self.result = time.perf_counter(), 0.0, [], (0, 0.0), None
        if self.points: self.ids, self.info = split_tokens(self.out.parent, "val")
    def after_step(self):
        l = self.learn
        self.paused += getattr(l, "eval_seconds", 0.0)  # the previous step's evaluation, if any
        seconds = time.perf_counter() - self.t0 - self.paused
        every = max(1, l.cfg.max_steps // max(self.points, 1))
        if self.points and l.step % every == 0 and l.step < l.cfg.max_steps:
            t1, m = time.perf_counter(), l.model
            block = m.model_config.block_size
            r = evaluate_batches(m, split_windows(self.ids, block, 16), ["bits_per_byte"], l.autocast, n_bytes=self.info["bytes"])
            self.curve.append([l.step, seconds, r["bits_per_byte"]])
            self.paused += time.perf_counter() - t1
        if l.step == min(10, l.cfg.max_steps // 2): self.mark = (l.step, seconds)  # the start-up (first steps, allocations) behind
        if l.step == l.cfg.max_steps:
            steady = (l.step - self.mark[0]) / max(seconds - self.mark[1], 1e-9)  # steps per second once running
            self.result = {"train_seconds": seconds, "steps": l.step, "steady_steps_per_s": steady, "curve": self.curve}
            self.out.write_text(json.dumps(self.result))
    def after_fit(self):  # evaluations (the curve's, the periodic ones, the final token and code metrics) and checkpoints: apart from training
        if self.result is None: return
        self.result["eval_seconds"] = time.perf_counter() - self.t0 - self.result["train_seconds"]
        self.out.write_text(json.dumps(self.result))


def parse_recipes(specs:list[str], ladder:bool=False) -> dict[str, tuple[str, list[str]]]:
    """Name -> (config file, overrides). A spec is a config file, or `NAME: [FILE] [KEY=VALUE ...]`; a spec without a
    file takes the previous one's, and with `ladder` each spec adds its overrides to the previous spec's (one change at a time)."""
    out, prev = {}, (None, [])
    for spec in specs:
        m = re.match(r"^([\w.+-]+): *(.*)$", spec)
        name, words = (m[1], m[2].split()) if m else (None, spec.split())
        path = words[0] if words and "=" not in words[0] else prev[0]
        if path is None: raise SystemExit(f"recipe {spec!r}: no config file, and no spec before it to take one from")
        sets = (prev[1] if ladder else []) + [w for w in words if "=" in w]
        out[name or path] = prev = (path, sets)
    return out


def _tag(recipe:str) -> str: return Path(recipe).stem if recipe.endswith(".yaml") else recipe


def one_run(recipe:str, seed:int, steps:int|None, root:Path, tag:str, sets:list[str], curve:int, config:str|None=None) -> dict:
    "Train `recipe` (the file `config`, default `recipe` itself) with `seed` (and `steps`, if given) in a fresh run folder; its training time and whole-split figures."
    tag = re.sub(r"[^\w.-]", "_", tag)
    run_dir = root / tag
    over = [f"run.root={root}", f"run.dir={run_dir}", f"seed={seed}", "tracking.enabled=false", "monitor.plots=false",
            "monitor.progress=false", "monitor.system_metrics=false", "checkpoint.keep_last=1", "checkpoint.keep_best=0",
            f"training.callbacks=[{{bench-clock: {{out: {run_dir / 'clock.json'}, points: {curve}}}}}]", *sets]
    if steps: over.append(f"training.max_steps={steps}")
    t0 = time.perf_counter()
    r = train(str(ROOT / (config or recipe)), *over, progress=False)
    wall = time.perf_counter() - t0
    clock = json.loads((run_dir / "clock.json").read_text())
    final = r.metrics
    ran = (run_dir / "config.yaml").read_text()  # what `auto` resolved to (precision, device), as the run wrote it
    precision = re.search(r"^  precision: (\S+)", ran, re.M)[1]
    return {"recipe": recipe, "seed": seed, "precision": precision, "steps": clock["steps"], "train_seconds": clock["train_seconds"], "wall_seconds": wall,
            "eval_seconds": clock.get("eval_seconds"),
            "bits_per_byte": final["bits_per_byte"], "scope": final.get("scope"), "loss": final["loss"],
            "steady_steps_per_s": clock["steady_steps_per_s"],
            "curve": clock["curve"] + [[clock["steps"], clock["train_seconds"], final["bits_per_byte"]]],
            **{k: final[k] for k in ("line_exact_match", "edit_similarity", "parse_rate") if k in final}}


def time_to(curve:list, target:float) -> float|None:
    "Training seconds at which the curve first reaches `target` bits per byte (linear between points), None if never."
    prev = None
    for step, sec, bpb in curve:
        if bpb <= target:
            if prev is None or prev[2] == bpb: return sec
            return prev[1] + (sec - prev[1]) * (prev[2] - target) / (prev[2] - bpb)
        prev = (step, sec, bpb)
    return None


def summarize(runs:list[dict], recipes:list[str], target:float|None) -> dict:
    "Per recipe: mean, spread and CI of bits per byte and training time, time to the target; the first recipe against each other."
    out = {"recipes": {}, "differences": {}}
    by = {r: [x for x in runs if x["recipe"] == r and not x.get("discarded")] for r in recipes}
    for r, xs in by.items():
        b, t = mean_ci([x["bits_per_byte"] for x in xs]), mean_ci([x["train_seconds"] for x in xs])
        ev = mean_ci([x["eval_seconds"] for x in xs]) if all(x.get("eval_seconds") is not None for x in xs) else None
        tt = [time_to(x["curve"], target) for x in xs] if target else []
        out["recipes"][r] = {"runs": len(xs), "steps": sorted({x["steps"] for x in xs}), "bits_per_byte": b, "train_seconds": t,
                             "eval_seconds": ev,
                             "flagged": sum(bool(x.get("flagged")) for x in xs),
                             **({"time_to_target": tt} if target else {}),
                             **{k: mean_ci([x[k] for x in xs]) for k in ("line_exact_match", "edit_similarity", "parse_rate") if all(k in x for x in xs)}}
    base = recipes[0]
    for r in recipes[1:]:
        pairs = {x["seed"]: x["bits_per_byte"] for x in by[base]}
        base_s = {x["seed"]: x["train_seconds"] for x in by[base]}
        diffs = [x["bits_per_byte"] - pairs[x["seed"]] for x in by[r] if x["seed"] in pairs]
        if diffs:
            m, s, h = mean_ci(diffs)
            rel = [(x["bits_per_byte"] - pairs[x["seed"]]) / pairs[x["seed"]] for x in by[r] if x["seed"] in pairs]
            # the reference's own final score, seed by seed: when this recipe's curve reached it, as a share of the reference's training time
            reach = [(lambda t: None if t is None else [t, t / base_s[x["seed"]]])(time_to(x["curve"], pairs[x["seed"]]))
                     for x in by[r] if x["seed"] in pairs]
            out["differences"][r] = {"minus": base, "bits_per_byte": [m, s, h], "pairs": len(diffs),
                                     "relative": m / statistics.fmean(pairs.values()), "relative_ci": mean_ci(rel),
                                     "resolved": bool(len(diffs) > 1 and abs(m) > h), "reaches_reference_final": reach}
    return out


def table(summary:dict, target:float|None) -> str:
    "The summary as a markdown table."
    fmt = lambda t, d=3: f"{t[0]:.{d}f} ± {t[2]:.{d}f}" if not math.isnan(t[2]) else f"{t[0]:.{d}f}"
    head = "| recipe | runs | steps | training s (mean ± 95% CI) | bits per byte, whole val split (mean ± 95% CI) | spread (sd) |"
    rows = [head, "|" + " --- |" * 6]
    if target: rows[0] += f" s to {target} bits/byte |"; rows[1] += " --- |"
    for r, s in summary["recipes"].items():
        row = (f"| `{Path(r).stem}` | {s['runs']}{' (' + str(s['flagged']) + ' flagged)' if s['flagged'] else ''} | "
               f"{', '.join(map(str, s['steps']))} | {fmt(s['train_seconds'], 0)} | {fmt(s['bits_per_byte'])} | {s['bits_per_byte'][1]:.3f} |")
        if target:
            tt = [t for t in s["time_to_target"] if t is not None]
            row += f" {statistics.fmean(tt):.0f} ({len(tt)} of {len(s['time_to_target'])} reached) |" if tt else " not reached |"
        rows.append(row)
    for r, d in summary["differences"].items():
        m, _, h = d["bits_per_byte"]
        verdict = f"{100 * d['relative']:+.1f}%" if d["resolved"] else "below resolution"
        rows.append(f"\n`{Path(r).stem}` − `{Path(d['minus']).stem}`: {m:+.3f} ± {h:.3f} bits per byte over {d['pairs']} paired seeds ({verdict})")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipes", nargs="+", default=["configs/gpt2-adamw.yaml", "configs/default.yaml", "default-fp32: configs/default.yaml training.precision=fp32"],
                    help="config files, or `NAME: [FILE] [KEY=VALUE ...]` (a spec without a file takes the previous one's); the first is the reference")
    ap.add_argument("--ladder", action="store_true", help="each recipe adds its overrides to the previous one's: an ablation, one change at a time")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--calibrate", type=int, default=60, metavar="STEPS", help="steps of each calibration run, at least")
    ap.add_argument("--equal-time", action="store_true", help="recipes after the first train as long as the first")
    ap.add_argument("--keep-steps", nargs="+", default=[], metavar="NAME",
                    help="with --equal-time: these recipes train their own max_steps (their training time is reported beside the others')")
    ap.add_argument("--budget", type=float, metavar="SECONDS", help="with --equal-time: this training time (once running) for every recipe, the first included")
    ap.add_argument("--curve", type=int, default=0, metavar="N", help="whole-split scores at N points of each run")
    ap.add_argument("--target", type=float, help="bits per byte whose time to reach is reported (needs --curve)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an override for every recipe")
    ap.add_argument("--root", default="/tmp/bench-recipes")
    ap.add_argument("--out", default="bench/results/recipes.json")
    a = ap.parse_args()
    root = Path(a.root); root.mkdir(parents=True, exist_ok=True)
    specs = parse_recipes(a.recipes, a.ladder)
    a.recipes = list(specs)
    cfg_of = lambda r: resolve_config(str(ROOT / specs[r][0]), [*specs[r][1], *a.set])
    for r in a.recipes: cfg_of(r)  # a bad recipe fails now, not after an hour
    if set(a.keep_steps) - set(a.recipes): raise SystemExit(f"--keep-steps: no recipe named {sorted(set(a.keep_steps) - set(a.recipes))}")
    run = lambda r, seed, n, tag, curve: one_run(r, seed, n, root, tag, [*specs[r][1], *a.set], curve, specs[r][0])
    steps = {r: None for r in a.recipes}
    if a.equal_time:  # calibration: seconds per step of each recipe, from a short run after its data is prepared
        rate = {}
        for r in a.recipes:
            if r in a.keep_steps: continue
            full = cfg_of(r).training.max_steps
            rate[r] = run(r, 0, max(a.calibrate, full // 8), f"calibrate-{_tag(r)}", 0)["steady_steps_per_s"]
            print(f"calibration {r}: {rate[r]:.2f} steps/s once running", flush=True)
        budget = a.budget or cfg_of(a.recipes[0]).training.max_steps / rate[a.recipes[0]]
        steps = {r: (None if (i == 0 and not a.budget) or r in a.keep_steps else max(1, round(budget * rate[r]))) for i, r in enumerate(a.recipes)}
        print(f"equal time: {budget:.0f} s of training (once running) for each; steps {steps}", flush=True)
    runs, quiet = [], math.inf
    for seed in range(a.seeds):
        order = a.recipes[seed % len(a.recipes):] + a.recipes[:seed % len(a.recipes)]
        for r in order:
            for attempt in range(2):
                p = probe(); quiet = min(quiet, p)
                x = run(r, seed, steps[r], f"{_tag(r)}-s{seed}-a{attempt}", a.curve)
                x.update(probe_s=p, flagged=p > 1.15 * quiet, attempt=attempt)
                print(f"seed {seed} {r}: {x['steps']} steps, {x['train_seconds']:.0f} s training, {x['bits_per_byte']:.4f} bits/byte"
                      f"{' (probe slow: ' + format(p / quiet, '.2f') + 'x)' if x['flagged'] else ''}", flush=True)
                if x["flagged"] and attempt == 0: x["discarded"] = True; runs.append(x); continue
                runs.append(x); break
    summary = summarize(runs, a.recipes, a.target)
    result = {"machine": machine(), "cpu_bf16_flags": sorted(set(CPU_BF16_FLAGS) & cpu_flags()), "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(sys.argv), "target": a.target,
              "definitions": {r: {"config": c, "sets": s} for r, (c, s) in specs.items()}, "ladder": a.ladder, "sets": a.set, "equal_time": a.equal_time, "steps": steps, "runs": runs, "summary": summary}
    out = ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{result['machine']}, {result['torch_threads']} torch threads, {result['date']}\n")
    print(table(summary, a.target))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
