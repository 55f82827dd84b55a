"""Generation speed: `gpt` with its KV cache against the same model without one (the whole sequence rerun
every step, as nanoGPT's `generate` does), and against transformers' `generate` on the exported GPT-2 of the
same weights (which has its own cache). Greedy, one prompt, the same tokens from all three (checked).

Usage: python bench/bench_generation.py [--new 200] [--threads 2]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import best_of, machine  # noqa: E402

from codex_nb.config import ModelConfig  # noqa: E402
from codex_nb.models import export_hf  # noqa: E402
from codex_nb.generation import generate
from codex_nb.models import build_gpt, save_model_folder  # noqa: E402
from codex_nb.tokenization import train_tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", type=int, default=200, help="tokens generated")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import transformers
    transformers.utils.logging.disable_progress_bar()
    from transformers import AutoModelForCausalLM
    tok = train_tokenizer(iter(["def f(x):\n    return x * 2\n"] * 50), "bpe", 300, show_progress=False)
    cfg = ModelConfig(n_layer=6, n_head=6, n_embd=384, block_size=512, vocab_size=tok.get_vocab_size())
    torch.manual_seed(0)
    model = build_gpt(cfg).eval()
    eot = "<|endoftext|>"
    # random weights rarely pick the end-of-text token, but make sure: generation must run the full length
    with torch.no_grad(): model.lm_head.weight[tok.token_to_id(eot)] = 0
    prompt = "def f(x):"
    run = lambda cache: generate(model, tok, prompt, a.new, temperature=0, use_cache=cache)
    t_cache, g1 = best_of(lambda: run(True))
    t_plain, g2 = best_of(lambda: run(False))
    with tempfile.TemporaryDirectory() as d:
        tok.save(f"{d}/tokenizer.json")
        save_model_folder(model, f"{d}/m", f"{d}/tokenizer.json")
        export_hf(f"{d}/m", f"{d}/hf")
        hf = AutoModelForCausalLM.from_pretrained(f"{d}/hf").eval()
    x = torch.tensor([tok.encode(prompt).ids])
    with torch.no_grad():
        t_hf, out = best_of(lambda: hf.generate(x, max_new_tokens=a.new, min_new_tokens=a.new, do_sample=False))
    assert g1.token_ids == g2.token_ids, "cache and no cache disagree"
    assert out[0, x.size(1):].tolist() == g1.token_ids[:out.size(1) - x.size(1)], "transformers disagrees"
    n = len(g1.token_ids)
    print(f"# {machine()}, torch {torch.__version__}, {a.threads} threads; gpt 6x384, block 512, {n} new tokens, greedy")
    print("| decoder | tokens/s | vs KV cache |\n| --- | --- | --- |")
    for name, t in (("gpt + KV cache", t_cache), ("gpt, no cache", t_plain), ("transformers GPT-2 generate", t_hf)):
        print(f"| {name} | {n / t:.0f} | {t_cache / t:.2f}x |")


if __name__ == "__main__":
    main()
