"""Tokenizer benchmarks, printed as ratios against references measured in the same run.

1. Training time on the stdlib corpus: codex_nb's `train_tokenizer` (streaming the documents from disk)
   against calling `tokenizers` directly with the same settings on the same texts already in memory.
2. Shard building: `write_tokens` as `prepared_shards` calls it (encode_batch_fast in batches of 256 documents,
   uint16 file) in MB/s against `tokenizers`' own batch encoding alone (`encode_batch`, and `encode_batch_fast`)
   on the same texts, everything in one batch.

Usage: python bench/bench_tokenizer.py [--vocab-size 8192]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import best_of, machine  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

from codex_nb.config import DataConfig  # noqa: E402
from codex_nb.data import iter_documents, write_tokens  # noqa: E402
from codex_nb.tokenization import EOT, SPECIAL_TOKENS, train_tokenizer  # noqa: E402


def direct_bpe(texts, vocab_size):
    "The reference: tokenizers' byte-level BPE configured by hand, fed an in-memory list."
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, tr)
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    cfg = DataConfig(source="stdlib")
    texts = [d.text for d in iter_documents(cfg)]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"machine: {machine()}")
    print(f"corpus: stdlib, {len(texts)} documents, {mb:.1f} MB; byte-level BPE, vocab {a.vocab_size}")

    t_ref, ref = best_of(lambda: direct_bpe(texts, a.vocab_size), a.repeats)
    t_ours, ours = best_of(lambda: train_tokenizer((d.text for d in iter_documents(cfg)), "bpe", a.vocab_size), a.repeats)
    assert ours.get_vocab() == ref.get_vocab(), "the two trainings must produce the same vocabulary"
    print(f"training   tokenizers direct (in memory) {t_ref:6.2f} s | codex_nb streamed from disk {t_ours:6.2f} s | "
          f"ratio {t_ours / t_ref:.2f}x (target <= 1.2x)")

    t_enc, _ = best_of(lambda: ours.encode_batch(texts), a.repeats)
    t_fast, _ = best_of(lambda: ours.encode_batch_fast(texts), a.repeats)
    with tempfile.TemporaryDirectory() as d:
        enc = lambda batch: [e.ids for e in ours.encode_batch_fast(batch)]  # what prepared_shards uses
        t_shard, info = best_of(lambda: write_tokens(texts, enc, Path(d) / "train.bin", ours.token_to_id(EOT), ours.get_vocab_size()),
                                a.repeats)
    print(f"shards     tokenizers encode_batch alone {mb / t_enc:6.1f} MB/s (encode_batch_fast alone {mb / t_fast:.1f} MB/s) | "
          f"codex_nb write_tokens {mb / t_shard:6.1f} MB/s | ratio {t_enc / t_shard:.2f}x encode_batch, "
          f"{t_fast / t_shard:.2f}x encode_batch_fast; {info['tokens']:,} tokens, {info['bytes'] / info['tokens']:.2f} bytes/token")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"(benchmark took {time.time() - t0:.0f} s)")
