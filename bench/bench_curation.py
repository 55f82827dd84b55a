"""Cost and effect of curation (generated-file filter, exact and near-duplicate grouping, decontamination).

1. The curation stage alone on real code: the installed site-packages (every `.py` file under 1 MB), its per-document
   traits (hashes, MinHash, long lines, benchmark n-grams) and the decisions of `curate`, timed apart from reading
   the files, with the peak memory of the process against a process that only reads them.
2. The default preparation (`configs/default.yaml`: manifest, tokenizer, shards, nothing cached) with curation on and
   off, interleaved in rounds, as the ratio of wall times.
3. What curation did to the default corpus: counts, and held-out bytes in lines verbatim in training before and after.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_curation.py --rounds 3      # ~4 min
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, mean_ci  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

STAGE = r"""
import json, resource, sys, sysconfig, time
from codex_nb.config import DataConfig
from codex_nb.data import assign_split, benchmark_ngrams, curate, doc_traits, iter_documents
cfg = DataConfig(source=sysconfig.get_paths()["purelib"])
with_stage = sys.argv[1] == "stage"
bench = benchmark_ngrams(cfg.decontaminate)
docs, traits, t_traits, n_bytes = [], [], 0.0, 0
t0 = time.perf_counter()
for d in iter_documents(cfg):
    n_bytes += d.size
    docs.append({"source": 0, "path": d.name, "size": d.size, "sha256": d.sha256, "split": assign_split(d.sha256, 0, cfg.val_fraction)})
    if with_stage:
        t1 = time.perf_counter(); traits.append(doc_traits(d.text, bench)); t_traits += time.perf_counter() - t1
t_read = time.perf_counter() - t0 - t_traits
t1 = time.perf_counter()
summary = curate(docs, traits, cfg) if with_stage else None
t_curate = time.perf_counter() - t1
print(json.dumps({"documents": len(docs), "bytes": n_bytes, "read_s": t_read, "traits_s": t_traits, "curate_s": t_curate,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "curation": summary}))
"""

PREP = r"""
import json, sys, tempfile, time
from codex_nb.config import load_config
from codex_nb.data import prepare_data
d = tempfile.mkdtemp()
cfg = load_config(sys.argv[1], [f"run.root={d}", f"data.curate={sys.argv[2]}"])
t0 = time.perf_counter()
m = prepare_data(cfg, f"{d}/run")
print(json.dumps({"seconds": time.perf_counter() - t0, "curation": m["curation"], "totals": m["totals"]}))
"""


def child(code:str, *args) -> dict:
    "Run `code` in a fresh interpreter; its last stdout line as JSON."
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    if p.returncode: raise SystemExit(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="bench/results/curation.json")
    a = ap.parse_args()
    read_only, stage = child(STAGE, "read"), child(STAGE, "stage")
    c = stage["curation"]
    print(f"site-packages: {stage['documents']:,} files, {stage['bytes'] / 1e6:.0f} MB; reading {stage['read_s']:.0f} s; "
          f"curation stage {stage['traits_s'] + stage['curate_s']:.0f} s (traits {stage['traits_s']:.0f} s, decisions {stage['curate_s']:.1f} s); "
          f"peak RSS {stage['peak_rss_mb']:.0f} MB against {read_only['peak_rss_mb']:.0f} MB reading only", flush=True)
    print(f"  dropped {c['dropped']}, near-duplicates {c['near_duplicates']}, moved {c['moved_to_train']}, "
          f"verbatim {c['verbatim']['before']['share']:.3f} -> {c['verbatim']['after']['share']:.3f}", flush=True)
    rounds = []
    with tempfile.TemporaryDirectory():
        for r in range(a.rounds):
            order = ("false", "true") if r % 2 == 0 else ("true", "false")
            t = {flag: child(PREP, str(ROOT / "configs/default.yaml"), flag) for flag in order}
            rounds.append({"off_s": t["false"]["seconds"], "on_s": t["true"]["seconds"], "ratio": t["true"]["seconds"] / t["false"]["seconds"]})
            print(f"round {r}: preparation {rounds[-1]['off_s']:.1f} s without curation, {rounds[-1]['on_s']:.1f} s with: "
                  f"{rounds[-1]['ratio']:.2f}x", flush=True)
    default = t["true"]
    ratio = mean_ci([x["ratio"] for x in rounds])
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
              "site_packages": {"read_only": read_only, "stage": stage}, "preparation": {"rounds": rounds, "ratio": ratio},
              "default": {"curation": default["curation"], "totals": default["totals"]}}
    out = ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{machine()}\ndefault preparation with curation / without: {ratio[0]:.2f}x ± {ratio[2]:.2f} (95% CI, {len(rounds)} rounds)")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
