"""Training throughput of `gpt` against a bare PyTorch loop over the same architecture and against
transformers' GPT-2 of the same size, measured side by side in one run.

nanoGPT's CPU recipe shape: 4 layers, 4 heads, width 128, block 64, batch 12, AdamW, fp32.
The bare reference is a minimal nanoGPT-style model written below (fused qkv, SDPA, tied embeddings),
trained in a plain loop; all three see the same batches. Rounds alternate between the models so that
a noisy neighbour on a shared machine affects each alike; the median of the rounds is reported.

Usage: python bench/bench_model.py [--steps 30] [--rounds 5] [--threads 2]
"""
import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from codex_nb.config import ModelConfig  # noqa: E402
from codex_nb.models import build_gpt, build_hf_gpt2  # noqa: E402


class BareBlock(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.ln1, self.ln2 = h, nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in self.qkv(self.ln1(x)).split(C, 2))
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class BareGPT(nn.Module):
    def __init__(self, vocab, block, n_layer, n_head, d):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.blocks = nn.ModuleList([BareBlock(d, n_head) for _ in range(n_layer)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.blocks: x = b(x)
        logits = self.head(self.ln(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=4096)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    L, H, D, T, B = 4, 4, 128, 64, 12
    cfg = ModelConfig(n_layer=L, n_head=H, n_embd=D, block_size=T, vocab_size=a.vocab)
    torch.manual_seed(0)
    batches = [torch.randint(0, a.vocab, (B, T + 1)) for _ in range(a.steps)]  # inputs b[:, :-1], targets b[:, 1:]
    runs = {
        "bare PyTorch loop": (BareGPT(a.vocab, T, L, H, D), lambda m, x, y: m(x, y)),
        "codex_nb gpt": (build_gpt(cfg), lambda m, x, y: m(x, labels=x).loss),  # labels=input_ids: the model shifts them
        "transformers GPT-2": (build_hf_gpt2(cfg), lambda m, x, y: m(x, labels=x).loss),
    }
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, (m, _) in runs.items()}
    speeds = {k: [] for k in runs}
    for r in range(a.rounds + 1):  # round 0 warms up
        for name, (m, step) in runs.items():
            t0 = time.perf_counter()
            for b in batches:
                loss = step(m, b[:, :-1], b[:, 1:])
                loss.backward(); opts[name].step(); opts[name].zero_grad(set_to_none=True)
            if r: speeds[name].append(a.steps * B * T / (time.perf_counter() - t0))
            assert math.isfinite(float(loss))
    bare = statistics.median(speeds["bare PyTorch loop"])
    print(f"machine: {machine()}; torch {torch.__version__}, {a.threads} threads")
    print(f"model: {L} layers, {H} heads, width {D}, block {T}, batch {B}, vocab {a.vocab}, fp32, AdamW; "
          f"{a.rounds} rounds of {a.steps} steps, median")
    for name, s in speeds.items():
        med = statistics.median(s)
        print(f"  {name:<20} {med:8.0f} tokens/s   {med / bare:.2f}x bare   (rounds: {', '.join(f'{x:.0f}' for x in s)})")


if __name__ == "__main__":
    main()
