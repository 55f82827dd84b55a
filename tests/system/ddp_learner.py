"""Train a tiny `gpt` with the Learner, alone or as one of N torchrun processes (gloo); rank 0 writes the per-step
losses and a hash of the final weights as JSON. Used by tests/system/test_distributed.py.

    python tests/system/ddp_learner.py OUT.json --batch 8
    torchrun --standalone --nproc_per_node=2 tests/system/ddp_learner.py OUT.json --batch 4 [--parallel fsdp]
"""
import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from codex_nb.config import ModelConfig, TrainingConfig
from codex_nb.learner import Callback, GradientClip, Learner, MLMBatches, TokenBatches, world
from codex_nb.models import build_gpt, build_minilm
from codex_nb.repro import seed_everything, set_deterministic

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--batch", type=int, required=True)
ap.add_argument("--accum", type=int, default=1)
ap.add_argument("--steps", type=int, default=60)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--parallel", default="ddp", choices=["ddp", "fsdp"])
ap.add_argument("--mlm", action="store_true", help="a minilm encoder on masked-LM batches instead of the gpt")
ap.add_argument("--modern", action="store_true", help="the modern recipe's options: Muon, rope, rmsnorm, ReLU², QK-norm, untied zero-initialised head, soft-capping, wsd, bf16")
a = ap.parse_args()

if int(os.environ.get("WORLD_SIZE", 1)) > 1: dist.init_process_group("gloo")
W, R = world()
torch.set_num_threads(1)
set_deterministic(True)
seed_everything(0)
stream = (np.cumsum(np.random.default_rng(0).integers(0, 3, 30_000)) % 64).astype(np.uint16)  # a random walk: learnable, not trivial
MODERN_MODEL = dict(pos_embedding="rope", norm="rmsnorm", bias=False, mlp="relu2", qk_norm=True, tie_embeddings=False, zero_init=True, logit_softcap=30.0)
MODERN_TRAINING = dict(optimizer="muon", schedule="wsd", precision="bf16")
mcfg = ModelConfig(n_layer=2, n_head=4, n_embd=64, block_size=32, vocab_size=64, dropout=0.0, **(MODERN_MODEL if a.modern else {}))
model = build_minilm(mcfg) if a.mlm else build_gpt(mcfg)
cfg = TrainingConfig(max_steps=a.steps, batch_size=a.batch, grad_accum=a.accum, lr=a.lr, min_lr=a.lr / 10, warmup_steps=10,
                     parallel=a.parallel, **(MODERN_TRAINING if a.modern else {"precision": "fp32"}))


class Record(Callback):
    def before_fit(self): self.losses = {}
    def after_step(self): self.losses[self.learn.step] = float(self.learn.loss)


rec = Record()
data = TokenBatches(stream, 32, a.batch, seed=0, world_size=W, rank=R)
if a.mlm: data = MLMBatches(data, mask_id=63, vocab_size=64, seed=0)
learn = Learner(model, data, cfg, cbs=[GradientClip(1.0), rec])
learn.fit()
full = learn.full_weights() if learn.sharded else {k: v for k, v in learn.model.state_dict().items() if not (k.endswith("lm_head.weight") and mcfg.tie_embeddings)}
flat = torch.cat([full[k].detach().reshape(-1) for k in sorted(full)]) if full else None  # FSDP gathers on rank 0 only
if W > 1 and not learn.sharded:  # every rank holds the same weights
    other = flat.clone()
    dist.broadcast(other, 0)
    assert torch.equal(other, flat), f"rank {R}: weights differ from rank 0's"
if R == 0:
    Path(a.out).write_text(json.dumps({"world_size": W, "losses": rec.losses, "tokens": int(learn.n_tokens),
                                       "weights": hashlib.sha256(flat.numpy().tobytes()).hexdigest()}))
if W > 1: dist.destroy_process_group()
