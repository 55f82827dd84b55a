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


def recipes_table(r:dict) -> str:
    "The recipes bench as a markdown table: one row per recipe, every figure with its 95% confidence interval."
    s, target = r["summary"], r.get("target") or float(r["command"].split("--target ")[1].split()[0])
    rows = ["| recipe | steps | training s | bits per byte, whole held-out split | edit similarity | parse rate | s to reach "
            f"{target} bits per byte |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, x in s["recipes"].items():
        tt = [t for t in x.get("time_to_target", []) if t is not None]
        reach = f"{sum(tt) / len(tt):.0f} ({len(tt)} of {len(x['time_to_target'])} runs)" if tt else "not reached"
        rows.append(f"| `{Path(name).name}` | {', '.join(map(str, x['steps']))} | {_pm(x['train_seconds'], 0)} | "
                    f"{_pm(x['bits_per_byte'])} | {_pm(x['edit_similarity'], 1) if 'edit_similarity' in x else '—'} | "
                    f"{_pm(x['parse_rate'], 2) if 'parse_rate' in x else '—'} | {reach} |")
    return "\n".join(rows)


def recipes_sentence(r:dict) -> str:
    "The comparison in words: the difference of the paired seeds, or 'below resolution'."
    s = r["summary"]
    (other, d), = s["differences"].items()
    base = d["minus"]
    b, o = s["recipes"][base]["bits_per_byte"], s["recipes"][other]["bits_per_byte"]
    m, _, h = d["bits_per_byte"]
    verdict = (f"`{Path(base).name}` is {100 * abs(m) / o[0]:.0f}% {'lower' if m > 0 else 'higher'}" if d["resolved"]
               else "the difference is below the bench's resolution")
    return (f"{_pm(b)} bits per byte for `{Path(base).name}` against {_pm(o)} for `{Path(other).name}`{' at equal training time' if r.get('equal_time') else ''} "
            f"({_pm(s['recipes'][base]['train_seconds'], 0)} s against {_pm(s['recipes'][other]['train_seconds'], 0)} s), "
            f"{d['pairs']} seeds each: {verdict} ({m:+.3f} ± {h:.3f} bits per byte, 95% CI of the paired differences)")


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
        r = load("recipes"); out += [recipes_table(r), recipes_sentence(r)]
    if (RESULTS / "nanogpt-check.json").is_file(): out.append(nanogpt_check_sentence(load("nanogpt-check")))
    if (RESULTS / "monitoring.json").is_file(): out.append(monitoring_sentence(load("monitoring")))
    if (RESULTS / "curation.json").is_file(): out += curation_sentences(load("curation"))
    return out


if __name__ == "__main__":
    for s in all_strings(): print(s, end="\n\n")
