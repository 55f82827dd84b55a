"""One table of codex_nb's costs, each row next to a reference measured in the same run.

The model is `configs/gpt2-adamw.yaml`'s (the main job's until issue 24 made a modern recipe the default: 4 layers, 4 heads, width 128, block 256, batch 16 — nanoGPT's
CPU recipe width and depth; nanoGPT's README recipe itself uses block 64, batch 12), randomly initialised, with
the vocabulary of the default tokenizer (`tokenizer.vocab_size`, 4096), trained on a random token stream.

Rows:
- bare loop tokens/s: the same `gpt` (same seed, same batches from `TokenBatches`, same AdamW from `make_optimizer`,
  fp32 on CPU / bf16 autocast on CUDA, gradients clipped at `training.grad_clip` as nanoGPT's recipe clips at 1.0)
  in a plain forward / backward / clip / step loop that, like nanoGPT's, evaluates (the Learner's schedule and
  batches) and saves model and optimizer with one `torch.save` every --ckpt-every steps: equal settings, without
  logging, progress, monitoring, verified atomic checkpoints or resumable state.
- Learner tokens/s: `Learner.fit` with codex-train's default callbacks — GradientClip, NaNGuard, MetricsLogger
  (every log_every), Checkpointer (every --ckpt-every and at the end), Preemption, Evaluator (every eval_every on
  eval_batches batches), Progress (to /dev/null), SystemMonitor (monitor.interval). Plots and MLflow are left out:
  they cost once per run (about 2 s, see bench_monitoring.py), not per step. Whole wall time of fit(),
  evaluation and checkpoint writes included. Target: >= 0.95x the bare loop, and above the Trainer.
  Rounds alternate bare / Learner / Learner without monitoring / Trainer, after one warm-up of each; medians are
  reported.
- Learner training only: the same without evaluation, checkpoints and the preemption handler — the work the
  Trainer row does.
- transformers Trainer tokens/s: `Trainer.train()` on the same `gpt` (wrapped to return {"loss": ...}), the same
  windows in the same order, AdamW with the same betas / decay / clipping and a cosine schedule, logging every
  log_every steps, no evaluation and no saving: what a Hugging Face user gets for this model, against the Learner
  training only. Ratios are the median over rounds of each round's ratio (the runs of a round ran side by side).
- transformers Trainer with transformers' GPT2LMHeadModel of the same shape (learned positions, GELU, tied head):
  the Hugging Face stack end to end, model included.
- MFU: training FLOPs per token = 6 N + 12 n_layer n_embd block_size with N the parameters less the position
  embedding — nanoGPT's `estimate_mfu` (model.py, after PaLM, appendix B) — times tokens/s, over a peak. On CUDA
  the peak is the GPU's dense bf16 datasheet figure (H100/H200 SXM 989 TFLOPS, A100 312), else a measured bf16
  matmul. On CPU it is a MEASURED ceiling: the best fp32 GFLOP/s of a large square matmul on the same threads —
  not a datasheet peak, so CPU MFU reads "share of what this CPU's BLAS reaches".
- checkpoint save / load: `CheckpointManager.save` (model safetensors + optimizer/loop state, fsync, SHA256SUMS)
  and `load_checkpoint` (verify the sums, then restore), best of 3, and the checkpoint's size.
- data loading: `next(TokenBatches)` for one global batch (batch_size x grad_accum), median, in ms and as a
  share of the bare loop's step time.
- monitoring overhead: the Learner with vs without SystemMonitor and MetricsLogger, same rounds.
- speed switches: tokens/s of the Learner (clipping and NaN guard on, after 3 warm-up steps, which absorb
  torch.compile's compilation) with one switch flipped from the resolved default, against the default measured in
  the same rounds: precision (bf16 on CPU, fp32 on CUDA), torch.compile, the other AdamW kernel, SDPA forced to
  its math kernel (no fused / flash attention), and on CUDA fp32 with and without TF32.
- tokenizer: codex_nb's `train_tokenizer` (byte-level BPE, default vocab) on the first --tok-mb MB of the Python
  standard library's sources, then `encode_batch_fast` (what `prepared_shards` uses) on the same texts, best of 3.

`--shape nanogpt` trains nanoGPT's README CPU recipe shape instead (4 layers, 4 heads, width 128, block 64,
batch 12, the 65-character vocabulary of shakespeare_char), where nanoGPT itself ran at 15.7k tokens/s on this
machine type (an earlier run). `--shape gpt2-124m` is GPT-2 small (12 layers, width 768, block 1024, vocabulary
50304), the size the GPU MFU target (40% in bf16 on one H100/H200-class GPU) is stated for.

Usage: python bench/bench_table.py [--shape default|nanogpt|gpt2-124m] [--steps 200] [--rounds 2] [--switch-steps 60]
                                   [--threads 2] [--device auto|cpu|cuda] [--quick] [--json PATH]
"""
import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import best_of, machine  # noqa: E402

from codex_nb.checkpoint import CheckpointManager, Checkpointer, Preemption, load_checkpoint  # noqa: E402
from codex_nb.config import DataConfig, flatten, load_config  # noqa: E402
from codex_nb.data import iter_documents  # noqa: E402
from codex_nb.learner import Evaluator, GradientClip, Learner, MetricsLogger, NaNGuard, Progress, TokenBatches, make_optimizer  # noqa: E402
from codex_nb.models import build_gpt, build_hf_gpt2, flops_per_token, param_count, resolve_device  # noqa: E402
from codex_nb.monitoring import SystemMonitor  # noqa: E402
from codex_nb.tokenization import train_tokenizer  # noqa: E402

GPU_BF16_PEAK = [("H200", 989e12), ("H100", 989e12), ("A100", 312e12)]  # dense, SXM datasheets


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize(dev)


def autocast(dev, precision):
    if precision == "fp32": return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=torch.bfloat16)


def bare(cfg, tokens, steps, dev, val_tokens=None, run=None, ckpt_every=100):
    "Tokens/s of a plain loop: same model init, batches and optimizer as the Learner; evaluating and saving as nanoGPT does when given `val_tokens` and `run`."
    t = cfg.training
    if dev.type == "cuda": torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32  # as the Learner sets it
    torch.manual_seed(0)
    model = build_gpt(cfg.model).to(dev)
    opt = make_optimizer(model, t, dev)
    data = TokenBatches(tokens, cfg.model.block_size, t.batch_size, seed=1, device=dev)
    sync(dev); t0 = time.perf_counter()
    for step in range(steps):
        for _ in range(t.grad_accum):
            x, y = next(data)
            with autocast(dev, t.precision): loss = model(x, labels=y).loss / t.grad_accum
            loss.backward()
        if t.grad_clip > 0: torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)  # a setting, as in nanoGPT
        opt.step(); opt.zero_grad(set_to_none=True)
        done = step + 1
        if val_tokens is not None and ((t.eval_every and done % t.eval_every == 0) or done == steps):  # the Learner's schedule
            val = TokenBatches(val_tokens, cfg.model.block_size, t.batch_size, seed=cfg.seed + 1, device=dev)
            model.eval()
            with torch.no_grad(), autocast(dev, t.precision):
                float(sum(model(*next(val)).loss for _ in range(t.eval_batches)))
            model.train()
        if run is not None and (done % ckpt_every == 0 or done == steps):  # nanoGPT's checkpoint: one torch.save
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done}, run / "ckpt.pt")
    sync(dev)
    return steps * t.batch_size * t.grad_accum * cfg.model.block_size / (time.perf_counter() - t0)


def learner(cfg, tokens, val_tokens, steps, dev, run, monitored=True, ckpt_every=100, train_only=False):
    "Tokens/s of Learner.fit with codex-train's default callbacks (without SystemMonitor / MetricsLogger if not monitored; without evaluation and checkpoints if train_only)."
    t, m = cfg.training, cfg.model
    t.max_steps = steps
    torch.manual_seed(0)
    learn = Learner(build_gpt(m), TokenBatches(tokens, m.block_size, t.batch_size, seed=1, device=dev), t, device=dev)
    ckpt = Checkpointer(CheckpointManager(run / "checkpoints", cfg.checkpoint.keep_last, cfg.checkpoint.keep_best),
                        ckpt_every, {"config": flatten(cfg)})
    val = lambda: TokenBatches(val_tokens, m.block_size, t.batch_size, seed=cfg.seed + 1, device=dev)
    cbs = [GradientClip(t.grad_clip), NaNGuard(t.log_every), Progress(t.log_every)]
    if not train_only: cbs += [ckpt, Preemption(ckpt), Evaluator(val, t.eval_every, t.eval_batches)]
    if monitored: cbs += [MetricsLogger(run / "metrics.ndjson", t.log_every), SystemMonitor(run / "system.ndjson", cfg.monitor.interval)]
    learn.add_cbs(cbs)
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):  # the progress bar still draws, unseen
        sync(dev); t0 = time.perf_counter()
        learn.fit()
        sync(dev); secs = time.perf_counter() - t0
    return steps * t.batch_size * t.grad_accum * m.block_size / secs, learn


def hf_trainer(cfg, tokens, steps, dev, run, hf_gpt2=False):
    "Tokens/s of transformers' Trainer on the same `gpt` (or transformers' own GPT-2 of its shape), the same batches and AdamW settings (no eval, no saving)."
    from transformers import PrinterCallback, Trainer, TrainingArguments, logging as hf_logging
    hf_logging.set_verbosity_error()
    t, m = cfg.training, cfg.model

    class Windows(torch.utils.data.Dataset):  # the Learner's batches, one window per item, in the sampler's order
        def __init__(self):
            data = TokenBatches(tokens, m.block_size, t.batch_size, seed=1)
            self.rows = [r for _ in range(steps) for r in zip(*next(data))]
        def __len__(self): return len(self.rows)
        def __getitem__(self, i):  # GPT2LMHeadModel shifts the labels itself
            return {"input_ids": self.rows[i][0], "labels": self.rows[i][0] if hf_gpt2 else self.rows[i][1]}

    class AsHF(torch.nn.Module):  # the Trainer wants a dict with "loss"
        def __init__(self, model): super().__init__(); self.model = model
        def forward(self, input_ids, labels): return {"loss": self.model(input_ids, labels=labels).loss}

    torch.manual_seed(0)
    args = TrainingArguments(output_dir=str(run), max_steps=steps, per_device_train_batch_size=t.batch_size,
                             gradient_accumulation_steps=t.grad_accum, learning_rate=t.lr, weight_decay=t.weight_decay,
                             adam_beta1=t.beta1, adam_beta2=t.beta2, max_grad_norm=t.grad_clip, warmup_steps=t.warmup_steps,
                             lr_scheduler_type="cosine", logging_steps=t.log_every, save_strategy="no", eval_strategy="no",
                             report_to=[], disable_tqdm=True, use_cpu=dev.type == "cpu", bf16=t.precision == "bf16",
                             dataloader_num_workers=0, seed=0)
    trainer = Trainer(model=build_hf_gpt2(m).hf if hf_gpt2 else AsHF(build_gpt(m)), args=args, train_dataset=Windows())
    trainer.remove_callback(PrinterCallback)  # its log lines on stdout; the Learner's go to a file
    sync(dev); t0 = time.perf_counter()
    trainer.train()
    sync(dev)
    return steps * t.batch_size * t.grad_accum * m.block_size / (time.perf_counter() - t0)


def switched(cfg, tokens, steps, dev, sdpa_math=False, **changes):
    "Tokens/s of the Learner (clipping, NaN guard) with `changes` to the training config, timed after 3 warm-up steps."
    from torch.nn.attention import SDPBackend, sdpa_kernel
    cfg = copy.deepcopy(cfg)
    t, m = cfg.training, cfg.model
    for k, v in changes.items(): setattr(t, k, v)
    torch.manual_seed(0)
    learn = Learner(build_gpt(m), TokenBatches(tokens, m.block_size, t.batch_size, seed=1, device=dev), t, device=dev,
                    cbs=[GradientClip(t.grad_clip), NaNGuard(t.log_every)])
    with sdpa_kernel(SDPBackend.MATH) if sdpa_math else contextlib.nullcontext():
        t.max_steps = 3; learn.fit()
        t.max_steps = 3 + steps
        sync(dev); t0 = time.perf_counter()
        learn.fit()
        sync(dev); secs = time.perf_counter() - t0
    return steps * t.batch_size * t.grad_accum * m.block_size / secs


def switches(dev, precision):
    "The switches to measure on `dev`: label -> keyword changes for `switched`."
    out = {"default (as resolved)": {},
           f"precision={'fp32' if precision == 'bf16' else 'bf16'}": {"precision": "fp32" if precision == "bf16" else "bf16"},
           "compile=true": {"compile": True},
           f"adamw={'foreach' if dev.type == 'cuda' else 'fused'}": {"adamw": "foreach" if dev.type == "cuda" else "fused"},
           "SDPA math kernel (no fused attention)": {"sdpa_math": True}}
    if dev.type == "cuda": out |= {"precision=fp32, tf32=true": {"precision": "fp32", "tf32": True},
                                   "precision=fp32, tf32=false": {"precision": "fp32", "tf32": False}}
    return out


def peak_flops(dev, n, repeats):
    "(FLOP/s, label): a datasheet bf16 peak on a known GPU, else the best measured square matmul."
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        for key, peak in GPU_BF16_PEAK:
            if key in name: return peak, f"{name} bf16 dense datasheet peak {peak / 1e12:.0f} TFLOPS"
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    a @ b; sync(dev)  # warm-up
    def mm(): a @ b; sync(dev)
    secs, _ = best_of(mm, repeats)
    peak = 2 * n**3 / secs
    return peak, f"measured peak: best {dtype} {n}x{n} matmul, {peak / 1e9:.1f} GFLOP/s, {torch.get_num_threads()} threads (not a datasheet)"


def checkpoint_cost(learn, root):
    "Best-of-3 seconds of CheckpointManager.save and of load_checkpoint (verify + restore), and the size in MB."
    mgr = CheckpointManager(root)
    t_save, folder = best_of(lambda: mgr.save(learn), 3)
    t_load, _ = best_of(lambda: load_checkpoint(learn, folder), 3)
    return t_save, t_load, sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def data_cost(cfg, tokens, dev, n):
    "Median seconds of next(TokenBatches) for one global batch."
    data = TokenBatches(tokens, cfg.model.block_size, cfg.training.batch_size, seed=3, device=dev)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        for _ in range(cfg.training.grad_accum): next(data)
        sync(dev); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tokenizer_cost(cfg, mb, vocab_size):
    "Seconds to train byte-level BPE on `mb` MB of stdlib sources, encode MB/s, tokens/s and bytes/token."
    texts, size = [], 0
    for doc in iter_documents(DataConfig(source="stdlib")):
        texts.append(doc.text); size += len(doc.text.encode())
        if size >= mb * 1e6: break
    t0 = time.perf_counter()
    tok = train_tokenizer(iter(texts), "bpe", vocab_size, cfg.tokenizer.min_frequency)
    t_train = time.perf_counter() - t0
    t_enc, enc = best_of(lambda: tok.encode_batch_fast(texts), 3)
    n_tokens = sum(len(e.ids) for e in enc)
    return size / 1e6, t_train, size / 1e6 / t_enc, n_tokens / t_enc, size / n_tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs/gpt2-adamw.yaml"))
    ap.add_argument("--shape", default="default", choices=["default", "nanogpt", "gpt2-124m"],
                    help="the config's model, nanoGPT's CPU recipe, or GPT-2 small (124M, for a GPU)")
    ap.add_argument("--switch-steps", type=int, default=60, help="timed steps per speed-switch measurement")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="auto: fp32 on CPU, bf16 on CUDA")
    ap.add_argument("--ckpt-every", type=int, default=100, help="Checkpointer interval (the recipes: 500)")
    ap.add_argument("--tok-mb", type=float, default=4.0, help="MB of stdlib sources for the tokenizer rows")
    ap.add_argument("--quick", action="store_true", help="smoke run: a few steps, one round, small matmul and corpus")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    a = ap.parse_args()
    if a.quick: a.steps, a.rounds, a.ckpt_every, a.tok_mb, a.switch_steps = 6, 1, 3, 0.5, 3
    torch.set_num_threads(a.threads)
    os.environ.setdefault("RAYON_NUM_THREADS", str(a.threads))  # tokenizers' thread pool, read at its first use
    dev = resolve_device(a.device)
    cfg = load_config(a.config)
    cfg.model.vocab_size = cfg.tokenizer.vocab_size
    if a.shape == "nanogpt":  # nanoGPT README: train_shakespeare_char on CPU
        cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.block_size, cfg.model.dropout = 4, 4, 128, 64, 0.0
        cfg.model.vocab_size, cfg.training.batch_size = 65, 12
    if a.shape == "gpt2-124m":  # GPT-2 small as nanoGPT trains it: 12 x 768, block 1024, vocab 50304
        cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.block_size, cfg.model.dropout = 12, 12, 768, 1024, 0.0
        cfg.model.vocab_size, cfg.training.batch_size = 50304, 16
    t, m = cfg.training, cfg.model
    t.precision = a.precision if a.precision != "auto" else ("bf16" if dev.type == "cuda" else "fp32")
    t.device = dev.type
    if a.quick: t.eval_every, t.eval_batches, t.log_every = 3, 2, 2
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, m.vocab_size, 2_000_000).astype(np.uint16)
    val_tokens = rng.integers(0, m.vocab_size, 200_000).astype(np.uint16)
    per_step = t.batch_size * t.grad_accum * m.block_size
    speeds = {"bare": [], "learner": [], "learner_nomon": [], "learner_train": [], "hf_trainer": [], "hf_trainer_gpt2": []}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bare(cfg, tokens, 2, dev); learner(cfg, tokens, val_tokens, 2, dev, tmp / "warm")  # lazy imports, allocator
        hf_trainer(cfg, tokens, 2, dev, tmp / "hf-warm")
        for r in range(a.rounds):
            speeds["bare"].append(bare(cfg, tokens, a.steps, dev, val_tokens, tmp, a.ckpt_every))
            tps, learn = learner(cfg, tokens, val_tokens, a.steps, dev, tmp / f"on{r}", True, a.ckpt_every)
            speeds["learner"].append(tps)
            speeds["learner_nomon"].append(learner(cfg, tokens, val_tokens, a.steps, dev, tmp / f"off{r}", False, a.ckpt_every)[0])
            speeds["learner_train"].append(learner(cfg, tokens, val_tokens, a.steps, dev, tmp / f"tr{r}", True, train_only=True)[0])
            speeds["hf_trainer"].append(hf_trainer(cfg, tokens, a.steps, dev, tmp / f"hf{r}"))
            speeds["hf_trainer_gpt2"].append(hf_trainer(cfg, tokens, a.steps, dev, tmp / f"hf2{r}", hf_gpt2=True))
        t_save, t_load, ck_mb = checkpoint_cost(learn, tmp / "ck")
    sw = {k: [] for k in switches(dev, t.precision)}
    for _ in range(a.rounds):
        for label, changes in switches(dev, t.precision).items(): sw[label].append(switched(cfg, tokens, a.switch_steps, dev, **changes))
    t_data = data_cost(cfg, tokens, dev, 20 if a.quick else 200)
    peak, peak_label = peak_flops(dev, 512 if a.quick else 2048, 2 if a.quick else 5)
    tok_mb, tok_train, enc_mbs, enc_tps, bpt = tokenizer_cost(cfg, a.tok_mb, cfg.tokenizer.vocab_size)

    med = {k: statistics.median(v) for k, v in speeds.items()}
    model = build_gpt(m)
    n_all = param_count(model)
    n = n_all - model.transformer.wpe.weight.numel() if "wpe" in model.transformer else n_all  # nanoGPT's non_embedding
    fpt = flops_per_token(m, n)
    mfu = {k: v * fpt / peak for k, v in med.items()}
    paired = lambda k, ref: statistics.median(x / y for x, y in zip(speeds[k], speeds[ref]))  # rounds ran side by side
    ratio, vs_trainer = paired("learner", "bare"), paired("learner_train", "hf_trainer")
    mon = 1 / paired("learner_nomon", "learner") - 1
    step_s = per_step / med["bare"]
    rounds = lambda k: ", ".join(f"{x:,.0f}" for x in speeds[k])
    rows = [
        ("model", f"gpt {m.n_layer}L/{m.n_head}H/{m.n_embd}, block {m.block_size}, batch {t.batch_size}x{t.grad_accum}, "
                  f"vocab {m.vocab_size}, {n_all / 1e6:.2f}M params, {t.precision}, {dev.type}",
         "gpt2-adamw.yaml's model" if a.shape == "default" else "nanoGPT's CPU recipe (nanoGPT itself: 15.7k tokens/s on this machine type, an earlier run)"),
        ("bare PyTorch loop, tokens/s", f"{med['bare']:,.0f} (rounds {rounds('bare')})", "reference"),
        ("Learner, default callbacks, tokens/s", f"{med['learner']:,.0f} (rounds {rounds('learner')})",
         f"{ratio:.3f}x bare, median of the rounds' ratios (target >= 0.95x)"),
        ("Learner training only (no evaluation, no checkpoints), tokens/s", f"{med['learner_train']:,.0f} (rounds {rounds('learner_train')})",
         f"{vs_trainer:.3f}x the transformers Trainer on the same model (next row; target: above it)"),
        ("transformers Trainer, same gpt and batches, no evaluation, no saving, tokens/s",
         f"{med['hf_trainer']:,.0f} (rounds {rounds('hf_trainer')})",
         "the same work as the row above: training steps, clipping, logging"),
        ("transformers Trainer with transformers' GPT2LMHeadModel of the same shape, tokens/s",
         f"{med['hf_trainer_gpt2']:,.0f} (rounds {rounds('hf_trainer_gpt2')})",
         f"the Learner training only is {paired('learner_train', 'hf_trainer_gpt2'):.3f}x, with its default callbacks "
         f"{paired('learner', 'hf_trainer_gpt2'):.3f}x"),
        ("MFU, bare loop", f"{100 * mfu['bare']:.1f}%", f"{fpt / 1e6:.2f} MFLOP/token (nanoGPT estimate_mfu); {peak_label}"),
        ("MFU, Learner", f"{100 * mfu['learner']:.1f}%", "same FLOPs and peak"),
        ("checkpoint save (CheckpointManager.save)", f"{t_save:.3f} s", f"{ck_mb:.1f} MB; {100 * t_save / (a.ckpt_every * step_s):.1f}% "
                                                                      f"of {a.ckpt_every} steps"),
        ("checkpoint load (verify + load_checkpoint)", f"{t_load:.3f} s", f"{ck_mb:.1f} MB"),
        ("data loading, next(TokenBatches) per step", f"{1e3 * t_data:.2f} ms", f"{100 * t_data / step_s:.2f}% of a bare step ({1e3 * step_s:.0f} ms)"),
        ("Learner without SystemMonitor / MetricsLogger, tokens/s", f"{med['learner_nomon']:,.0f} (rounds {rounds('learner_nomon')})",
         f"monitoring overhead {-100 * mon:+.1f}% (with / without = {1 + mon:.3f}x)"),
        ("tokenizer training (byte-level BPE)", f"{tok_train:.2f} s", f"{tok_mb:.1f} MB stdlib sources, vocab {cfg.tokenizer.vocab_size}, "
                                                                    f"{tok_mb / tok_train:.2f} MB/s"),
        ("tokenizer encode (encode_batch_fast)", f"{enc_mbs:.2f} MB/s", f"{enc_tps / 1e6:.2f}M tokens/s, {bpt:.2f} bytes/token"),
    ]
    sw_med = {k: statistics.median(v) for k, v in sw.items()}
    base = sw_med["default (as resolved)"]
    rows += [(f"switch: {k}", f"{v:,.0f} tokens/s", "reference" if k.startswith("default") else f"{v / base:.3f}x the default")
             for k, v in sw_med.items()]
    print("| measure | value | reference / ratio |\n| --- | --- | --- |")
    for row in rows: print("| " + " | ".join(row) + " |")
    where = f"{machine()}; torch {torch.__version__}, {a.threads} threads" + (f", {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else "")
    print(f"\nmachine: {where}; {a.steps} steps x {a.rounds} rounds; took {time.perf_counter() - t_start:.0f} s")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": where, "args": vars(a), "tokens_per_s": speeds, "median": med, "ratio": ratio, "vs_trainer": vs_trainer,
                                            "mfu": mfu, "peak_flops": peak, "flops_per_token": fpt, "checkpoint": {"save_s": t_save,
                                            "load_s": t_load, "mb": ck_mb}, "data_s_per_step": t_data, "step_s": step_s,
                                            "monitoring_overhead": -mon, "tokenizer": {"mb": tok_mb, "train_s": tok_train,
                                            "encode_mb_s": enc_mbs, "encode_tokens_s": enc_tps, "bytes_per_token": bpt},
                                            "switches": sw, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
