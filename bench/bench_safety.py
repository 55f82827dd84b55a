"""Safety scanner: precision and recall per kind on the labelled, the held-out and the frozen out-of-sample set, lines flagged on the
stdlib corpus, and scanning speed against detect-secrets (the well-kept reference) on the same files.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_safety.py      # about 1 minute
"""
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from codex_nb.config import DataConfig  # noqa: E402
from codex_nb.data import iter_documents, stdlib_root  # noqa: E402
from codex_nb.secrets import KINDS, evaluate_labelled, scan_paths, scan_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def quality():
    for name in ("labelled", "holdout", "outofsample"):
        res = evaluate_labelled(ROOT / "data" / "safety" / f"{name}.jsonl")
        a = res["all"]
        print(f"\n{name}.jsonl: precision {a['precision']:.4f}  recall {a['recall']:.4f}  (tp {a['tp']}, fp {a['fp']}, fn {a['fn']})")
        print(f"  {'kind':<20} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>3} {'fn':>3}")
        for k in KINDS:
            if k in res["kinds"]:
                v = res["kinds"][k]
                print(f"  {k:<20} {v['precision']:>9.3f} {v['recall']:>7.3f} {v['tp']:>4} {v['fp']:>3} {v['fn']:>3}")
        for kind_of_error, k, rid in res["errors"]: print(f"  {kind_of_error}: {k} in {rid}")


def detect_secrets_seconds(files):
    "Wall time of detect-secrets (default plugins and filters) scanning `files`, in a child process."
    code = ("import sys, time; from detect_secrets import SecretsCollection; from detect_secrets.settings import default_settings\n"
            "t = time.perf_counter()\nwith default_settings():\n    s = SecretsCollection(); [s.scan_file(f) for f in sys.argv[1:]]\n"
            "print(time.perf_counter() - t, sum(len(v) for v in s.data.values()))")
    p = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True)
    if p.returncode: return None, p.stderr.strip().splitlines()[-1]
    secs, n = p.stdout.split()
    return float(secs), int(n)


def speed():
    root = stdlib_root()
    docs = list(iter_documents(DataConfig(source="stdlib")))
    files = [root / d.name for d in docs]
    mb, lines = sum(d.size for d in docs) / 1e6, sum(d.text.count("\n") + 1 for d in docs)
    t = time.perf_counter()
    flagged = {kind: 0 for kind in ("secret", "pii")}
    for d in docs:
        found = scan_text(d.text)
        flagged["secret"] += len({f.line for f in found if not f.pii})
        flagged["pii"] += len({f.line for f in found if f.pii})
    serial = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(len(f or []) for _, f in scan_paths(files, workers=2, allow_marker=False))
    parallel = time.perf_counter() - t
    print(f"\nstdlib corpus: {len(docs)} files, {mb:.1f} MB, {lines:,} lines")
    print(f"  lines flagged: secrets {flagged['secret']} ({flagged['secret'] / lines:.4%}), personal data {flagged['pii']} ({flagged['pii'] / lines:.4%})")
    print(f"  codex_nb scan_text, 1 process (texts in memory): {serial:.2f} s = {serial / lines * 1e6:.1f} µs/line")
    print(f"  codex_nb scan_paths, 2 workers (reading files):  {parallel:.2f} s ({n} findings)  target <= 5 s")
    sample = files[::10]
    s_lines = sum(Path(f).read_text(encoding="utf-8").count("\n") + 1 for f in sample)
    t = time.perf_counter()
    list(scan_paths(sample, workers=1, allow_marker=False))
    ours = time.perf_counter() - t
    ds, ds_n = detect_secrets_seconds(sample)
    if ds is None: print(f"  detect-secrets not measured: {ds_n} (pip install detect-secrets: it is in the dev extra)")
    else:
        print(f"  every 10th file ({len(sample)} files, {s_lines:,} lines), 1 process: codex_nb {ours:.2f} s ({ours / s_lines * 1e6:.1f} µs/line), "
              f"detect-secrets {ds:.2f} s ({ds / s_lines * 1e6:.0f} µs/line, {ds_n} findings): {ds / ours:.0f}x faster")


if __name__ == "__main__":
    print(machine())
    quality()
    speed()
