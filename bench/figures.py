"""The published figures, worded from the benches' result files in one place.

The README (nbs/index.ipynb) and the benchmarks page quote these strings; a hidden cell in each notebook checks that
every string below appears in its text, so a figure cannot be typed in by hand or outlive the run that measured it.

    .venv/bin/python bench/figures.py      # print every string, to paste after a bench run
"""
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mean_ci  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def load(name:str) -> dict: return json.loads((RESULTS / f"{name}.json").read_text())


def _pm(t, d=3) -> str: return f"{t[0]:.{d}f} ± {t[2]:.{d}f}" if not math.isnan(t[2]) else f"{t[0]:.{d}f}"


def _name(name:str, names:dict) -> str: return names.get(name, f"`{Path(name).name}`")


def recipes_table(r:dict, names:dict|None=None) -> str:
    "The recipes bench as a markdown table: one row per recipe, every figure with its 95% confidence interval."
    s, target, names = r["summary"], r.get("target") or float(r["command"].split("--target ")[1].split()[0]), names or {}
    evals = all(x.get("eval_seconds") for x in s["recipes"].values())
    rows = ["| recipe | steps | training s |" + (" evaluation s |" if evals else "") + " bits per byte, whole held-out split | "
            f"edit similarity | parse rate | s to reach {target} bits per byte |", "| --- | --- | --- |" + (" --- |" if evals else "") + " --- | --- | --- | --- |"]
    for name, x in s["recipes"].items():
        tt = [t for t in x.get("time_to_target", []) if t is not None]
        reach = f"{sum(tt) / len(tt):.0f} ({len(tt)} of {len(x['time_to_target'])} runs)" if tt else "not reached"
        rows.append(f"| {_name(name, names)} | {', '.join(map(str, x['steps']))} | {_pm(x['train_seconds'], 0)} | "
                    + (f"{_pm(x['eval_seconds'], 0)} | " if evals else "") +
                    f"{_pm(x['bits_per_byte'])} | {_pm(x['edit_similarity'], 1) if 'edit_similarity' in x else '—'} | "
                    f"{_pm(x['parse_rate'], 2) if 'parse_rate' in x else '—'} | {reach} |")
    return "\n".join(rows)


NANOGPT_NAMES = {"configs/default.yaml": "`gpt2-adamw.yaml` (then `default.yaml`)"}  # recipes-nanogpt.json ran before the default changed


def recipes_sentence(r:dict, names:dict|None=None) -> str:
    "The comparison of a two-recipe run in words: the difference of the paired seeds, or 'below resolution'."
    s, names = r["summary"], names or {}
    (other, d), = s["differences"].items()
    base = d["minus"]
    b, o = s["recipes"][base]["bits_per_byte"], s["recipes"][other]["bits_per_byte"]
    m, _, h = d["bits_per_byte"]
    verdict = (f"{_name(base, names)} is {100 * abs(m) / o[0]:.0f}% {'lower' if m > 0 else 'higher'}" if d["resolved"]
               else "the difference is below the bench's resolution")
    return (f"{_pm(b)} bits per byte for {_name(base, names)} against {_pm(o)} for {_name(other, names)}{' at equal training time' if r.get('equal_time') else ''} "
            f"({_pm(s['recipes'][base]['train_seconds'], 0)} s against {_pm(s['recipes'][other]['train_seconds'], 0)} s), "
            f"{d['pairs']} seeds each: {verdict} ({m:+.3f} ± {h:.3f} bits per byte, 95% CI of the paired differences)")


def default_sentences(r:dict) -> list[str]:
    "Each recipe against the run's first (the baseline) in words: the scores with their training times, and the time to the baseline's final score."
    s = r["summary"]
    base = next(iter(s["recipes"]))
    out = []
    for other, d in s["differences"].items():
        x, b = s["recipes"][other], s["recipes"][base]
        rel = d["relative_ci"]
        reach = [t for t in d["reaches_reference_final"] if t is not None]
        words = (f"{_name(other, {})}: {_pm(x['bits_per_byte'])} bits per byte against {_pm(b['bits_per_byte'])} for {_name(base, {})} "
                 f"after {_pm(x['train_seconds'], 0)} s of training against {_pm(b['train_seconds'], 0)} s ({d['pairs']} seeds each), "
                 f"{100 * -rel[0]:.1f}% ± {100 * rel[2]:.1f}% lower (95% CI of the paired relative differences)")
        if reach:
            words += (f"; it reached {_name(base, {})}'s final bits per byte after {sum(t for t, _ in reach) / len(reach):.0f} s of training, "
                      f"{100 * sum(f for _, f in reach) / len(reach):.0f}% of {_name(base, {})}'s time ({len(reach)} of {d['pairs']} seeds reached it; "
                      f"each: {', '.join(f'{100 * f:.0f}%' for _, f in reach)})")
        out.append(words)
    return out


def ablation_table(r:dict) -> str:
    """A screening run of the recipes bench, one seed at equal training time: with `--ladder` each row adds one change to the
    row above and is compared with it; without, each row is one change to the first row and is compared with that."""
    s, defs, ladder = r["summary"]["recipes"], r["definitions"], r.get("ladder")
    ref = "the rung above" if ladder else "the first row"
    rows = [f"| {'rung' if ladder else 'variant'} | {'adds' if ladder else 'changes'} | steps | steps/s | training s | evaluation s | "
            f"bits per byte, whole held-out split | change vs {ref} |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    first = prev = None
    for name, x in s.items():
        sets, base = defs[name]["sets"], (prev if ladder else first)
        adds = [w for w in sets if w not in base[0]] if base else [Path(defs[name]["config"]).name, *sets]
        rate = [y["steady_steps_per_s"] for y in r["runs"] if y["recipe"] == name and not y.get("discarded")]
        bpb = x["bits_per_byte"]
        delta = f"{100 * (bpb[0] - base[1]) / base[1]:+.1f}%" if base else "—"
        rows.append(f"| {name} | {'<br>'.join(f'`{w}`' for w in adds)} | {', '.join(map(str, x['steps']))} | {sum(rate) / len(rate):.2f} | "
                    f"{_pm(x['train_seconds'], 0)} | {_pm(x['eval_seconds'], 0) if x.get('eval_seconds') else '—'} | {_pm(bpb)} | {delta} |")
        prev = (sets, bpb[0])
        first = first or prev
    return "\n".join(rows)


def bf16_sentence(r:dict, bf16:str="configs/default.yaml", fp32:str="default-fp32") -> str:
    "Training speed of one recipe in bf16 against fp32, from the same recipes run (steps per second once running, per seed)."
    rate = lambda name: [x["steady_steps_per_s"] for x in r["runs"] if x["recipe"] == name and not x.get("discarded")]
    b, f = rate(bf16), rate(fp32)
    ratios = [x / y for x, y in zip(b, f)]
    return (f"{sum(b) / len(b):.2f} steps per second in bf16 against {sum(f) / len(f):.2f} in fp32, "
            f"{_pm(mean_ci(ratios), 2)}x ({len(ratios)} seeds)")


def learner_sentence(r:dict) -> str:
    "The Learner's tokens per second against a bare PyTorch loop with the same model, optimizer and autocast."
    return (f"{r['ratio_of_medians']:.3f}x the tokens per second of a bare PyTorch loop (the ratio of the medians of {len(r['ratios'])} alternating "
            f"rounds of {r['steps']} steps each; round by round: {', '.join(f'{x:.3f}x' for x in r['ratios'])})")


def nanogpt_check_sentence(r:dict) -> str:
    "The bench's check against nanoGPT's own figure."
    (name, x), = r["summary"]["recipes"].items()
    return (f"`{Path(name).name}` with curation off, {', '.join(map(str, x['steps']))} steps, {x['runs']} seeds: "
            f"{_pm(x['bits_per_byte'])} bits per byte on the whole held-out split")


def monitoring_sentence(r:dict) -> str:
    "Monitoring and tracking overhead as total wall time of paired runs, relative and in seconds per run."
    s, kept = r["summary"], [p for p in r["pairs"] if not p.get("discarded")]
    d = mean_ci([p["monitored_s"] - p["plain_s"] for p in kept])
    what = "below resolution" if s["verdict"] == "below resolution" else f"{d[0]:.1f} ± {d[2]:.1f} s more per run"
    return (f"{100 * s['overhead_mean']:+.1f}% ± {100 * s['overhead_ci95']:.1f}% of total wall time over {s['pairs']} paired "
            f"{r['steps']}-step runs of {s['plain_s'][0]:.0f} s ({what})")


def curation_sentences(r:dict) -> list[str]:
    "What curation costs on site-packages and in the default preparation, and what it did to the default corpus."
    st, ro = r["site_packages"]["stage"], r["site_packages"]["read_only"]
    p, c = r["preparation"]["ratio"], r["default"]["curation"]
    v = c["verbatim"]
    return [f"{st['documents']:,} files ({st['bytes'] / 1e6:.0f} MB) in {st['traits_s'] + st['curate_s']:.0f} s, "
            f"peak memory {st['peak_rss_mb']:.0f} MB against {ro['peak_rss_mb']:.0f} MB for reading alone",
            f"{p[0]:.2f}x ± {p[2]:.2f} the time of the preparation without it",
            f"{c['dropped']['generated']} generated files and {c['dropped']['duplicate']} exact duplicates dropped, "
            f"{c['near_duplicates']['documents']} near-duplicates in {c['near_duplicates']['groups']} groups, "
            f"{c['moved_to_train']} held-out files moved to training",
            f"{100 * v['before']['share']:.1f}% to {100 * v['after']['share']:.1f}%"]


def all_strings() -> list[str]:
    "Every published string, for the notebooks' checks."
    out = []
    if (RESULTS / "recipes.json").is_file():
        r = load("recipes"); out += [recipes_table(r), *default_sentences(r), bf16_sentence(r)]
    if (RESULTS / "recipes-nanogpt.json").is_file():
        r = load("recipes-nanogpt"); out += [recipes_table(r, NANOGPT_NAMES), recipes_sentence(r, NANOGPT_NAMES)]
    out += [ablation_table(load(name)) for name in ("ablation", "screen", "screen-lr", "screen-removal") if (RESULTS / f"{name}.json").is_file()]
    if (RESULTS / "learner-default.json").is_file(): out.append(learner_sentence(load("learner-default")))
    if (RESULTS / "nanogpt-check.json").is_file(): out.append(nanogpt_check_sentence(load("nanogpt-check")))
    if (RESULTS / "monitoring.json").is_file(): out.append(monitoring_sentence(load("monitoring")))
    if (RESULTS / "curation.json").is_file(): out += curation_sentences(load("curation"))
    return out


if __name__ == "__main__":
    for s in all_strings(): print(s, end="\n\n")
