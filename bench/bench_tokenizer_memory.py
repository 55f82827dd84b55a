"""Peak memory of tokenizer training: streamed (codex_nb) against the in-memory approach.

A corpus of `--gigabytes` GB is generated from the standard library: copy k of every file has about
10% of its longer identifiers renamed with a copy-specific suffix, so the number of distinct words
grows with the corpus as it does in real code (a plain repetition would flatter any trainer).

Measured, each in a fresh process (peak RSS from getrusage):
- codex_nb: `train_tokenizer` on the documents streamed from disk, on the full corpus and on a slice;
- in-memory: every file read into a Python list first, then the same tokenizers training, on the full
  corpus and on the slice (this machine has the memory for it: 24 GiB).

Usage: python bench/bench_tokenizer_memory.py [--gigabytes 1] [--slice-mb 256] [--dir /tmp/codex_nb_bench_corpus]
"""
import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import child_peak_rss, machine  # noqa: E402

from codex_nb.config import DataConfig  # noqa: E402
from codex_nb.data import iter_documents  # noqa: E402

IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{5,}\b")


def generate(out: Path, target_bytes: int) -> int:
    "Write mutated copies of the stdlib under `out` until `target_bytes`; return the bytes written."
    docs = [(d.name, d.text) for d in iter_documents(DataConfig(source="stdlib"))]
    total, k = 0, 0
    while total < target_bytes:
        rng = random.Random(k)
        for name, text in docs:
            mutated = IDENT.sub(lambda m, k=k, rng=rng: f"{m[0]}_{k}" if rng.random() < 0.1 else m[0], text)
            p = out / f"copy{k:04d}" / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(mutated, encoding="utf-8")
            total += len(mutated.encode("utf-8"))
            if total >= target_bytes: break
        k += 1
    return total


STREAM = """
from codex_nb.config import DataConfig
from codex_nb.data import iter_documents
from codex_nb.tokenization import train_tokenizer
tok = train_tokenizer((d.text for d in iter_documents(DataConfig(source={src!r}, max_file_bytes=10**9))), "bpe", 8192)
print("vocab", tok.get_vocab_size())
"""

IN_MEMORY = """
from pathlib import Path
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
texts = [p.read_text(encoding="utf-8") for p in sorted(Path({src!r}).rglob("*.py"))]
tok = Tokenizer(models.BPE()); tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=8192, min_frequency=2, show_progress=False,
                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
print("vocab", tok.get_vocab_size())
"""


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.py"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--slice-mb", type=int, default=256)
    ap.add_argument("--dir", default="/tmp/codex_nb_bench_corpus")
    a = ap.parse_args()
    root, sl = Path(a.dir) / "full", Path(a.dir) / "slice"
    print(f"machine: {machine()}")
    for path, size in ((root, int(a.gigabytes * 1e9)), (sl, a.slice_mb * 10**6)):
        if not path.exists() or du(path) < size:
            t0 = time.time()
            n = generate(path, size)
            print(f"generated {path}: {n / 1e6:.0f} MB in {time.time() - t0:.0f} s")
    env = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "true"}
    rows = [("codex_nb streamed", root), ("in-memory list", root), ("codex_nb streamed", sl), ("in-memory list", sl)]
    for label, path in rows:
        code = (STREAM if "streamed" in label else IN_MEMORY).format(src=str(path))
        peak, wall, tail = child_peak_rss(code, env=env)
        size = du(path) / 1e6
        shown = f"{peak / 2**30:.2f} GiB" if peak else f"failed: {tail!r}"
        print(f"{label:<18} corpus {size:7.0f} MB  peak RSS {shown}  ({wall:.0f} s)")


if __name__ == "__main__":
    main()
