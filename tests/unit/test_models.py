"Models: transformers parity, padding invariance, token-weighted losses, LoRA round trips, model folders, bad input."
import json
import math
from dataclasses import asdict, replace

import pytest
import torch
from transformers import AutoModelForCausalLM

from codex_nb.config import ModelConfig
from codex_nb.models import (apply_lora, build_gpt, hf_config, hf_state_dict, load_lora, load_model_folder, merge_lora,
                             save_lora, save_model_folder)
from codex_nb.registry import models as MODELS

from conftest import ROOT, assert_usage_error, run

torch.set_num_threads(1)
BASE = ModelConfig(n_layer=2, n_head=4, n_embd=64, block_size=48, vocab_size=97, intermediate_size=None)
GPT2_SHAPE = dict(pos_embedding="learned", norm="layernorm", mlp="gelu")
LLAMA_SHAPE = dict(pos_embedding="rope", norm="rmsnorm", mlp="swiglu")
NAMES = ["gpt", "hf-gpt2", "hf-llama", "minilm"]


def cfg(**kw): return replace(BASE, **kw)


@pytest.mark.parametrize("shape", [GPT2_SHAPE, LLAMA_SHAPE], ids=["gpt2", "llama"])
@pytest.mark.parametrize("bias", [True, False])
def test_gpt_gives_transformers_logits_with_copied_weights(shape, bias):
    torch.manual_seed(1)
    ours = build_gpt(cfg(**shape, bias=bias)).eval()
    with torch.no_grad():  # random, non-trivial norms and biases too
        for n, p in ours.named_parameters():
            if "ln" in n or n.endswith("bias"): p.add_(torch.randn_like(p) * 0.1)
    theirs = AutoModelForCausalLM.from_config(hf_config(ours.model_config)).eval()
    _, unexpected = theirs.load_state_dict(hf_state_dict(ours), strict=False)
    assert unexpected == []
    ids = torch.randint(0, 97, (3, 48))
    mask = torch.ones_like(ids); mask[0, :7] = 0  # one left-padded row
    with torch.no_grad():
        assert (theirs(ids).logits - ours(ids).logits).abs().max() <= 1e-5
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        a = theirs(ids, attention_mask=mask, position_ids=pos).logits[mask.bool()]
        b = ours(ids, attention_mask=mask).logits[mask.bool()]
        assert (a - b).abs().max() <= 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_padding_changes_nothing_for_real_tokens(name):
    torch.manual_seed(2)
    m = MODELS[name](cfg(name=name, **(LLAMA_SHAPE if name == "hf-llama" else {}))).eval()
    seq = torch.randint(3, 97, (1, 20))
    pad = torch.full((1, 6), 1)
    with torch.no_grad():
        ref = m(seq, attention_mask=torch.ones_like(seq)).logits
        right = m(torch.cat([seq, pad], 1), attention_mask=torch.cat([torch.ones(1, 20), torch.zeros(1, 6)], 1).long()).logits
        assert (right[:, :20] - ref).abs().max() <= 1e-5
        if name != "minilm":  # decoders are also left-padded for batched generation
            left = m(torch.cat([pad, seq], 1), attention_mask=torch.cat([torch.zeros(1, 6), torch.ones(1, 20)], 1).long()).logits
            assert (left[:, 6:] - ref).abs().max() <= 1e-5


@pytest.mark.parametrize("name", ["gpt", "hf-gpt2", "hf-llama"])
def test_token_weighted_micro_batches_give_the_full_batch_gradient(name):
    "4 micro-batches of 2, unevenly padded, weighted by their token counts = one batch of 8."
    torch.manual_seed(3)
    m = MODELS[name](cfg(name=name))
    ids = torch.randint(3, 97, (8, 32))
    mask = torch.ones_like(ids)
    for i, n in enumerate([0, 3, 17, 0, 25, 1, 9, 30]): mask[i, 32 - n:] = 0  # right padding, uneven
    labels = ids.masked_fill(mask == 0, -100)  # unshifted, as transformers takes them; padding never trains
    m(ids, labels=labels, attention_mask=mask).loss.backward()
    full = {n: p.grad.clone() for n, p in m.named_parameters()}
    m.zero_grad()
    outs = [m(ids[i:i + 2], labels=labels[i:i + 2], attention_mask=mask[i:i + 2]) for i in range(0, 8, 2)]
    total = sum(o.n_tokens for o in outs)
    sum(o.loss_sum for o in outs).div(total).backward()
    for n, p in m.named_parameters(): torch.testing.assert_close(p.grad, full[n], atol=1e-6, rtol=1e-4)
    m.zero_grad()  # negative control: a mean of micro-batch means is not the same gradient
    sum(o.loss for o in [m(ids[i:i + 2], labels=labels[i:i + 2], attention_mask=mask[i:i + 2]) for i in range(0, 8, 2)]).div(4).backward()
    assert any((p.grad - full[n]).abs().max() > 1e-4 for n, p in m.named_parameters())


@pytest.mark.parametrize("name", NAMES)
def test_lora_save_load_merge_parity(name, tmp_path):
    torch.manual_seed(4)
    c = cfg(name=name, **(LLAMA_SHAPE if name == "hf-llama" else {}))
    base = MODELS[name](c)
    fresh = MODELS[name](c); fresh.load_state_dict(base.state_dict())
    lora = apply_lora(base, r=4)
    assert 0 < sum(p.numel() for p in lora.parameters() if p.requires_grad) < sum(p.numel() for p in lora.parameters()) / 5
    opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(3, 97, (2, 16))
    for _ in range(3):
        lora(ids, labels=ids).loss.backward(); opt.step(); opt.zero_grad()
    lora.eval()
    with torch.no_grad():
        ref = lora(ids).logits
        save_lora(lora, tmp_path / "adapter")
        assert not (tmp_path / "adapter" / "model.safetensors").exists()
        reloaded = load_lora(fresh, tmp_path / "adapter").eval()
        assert (reloaded(ids).logits - ref).abs().max() <= 1e-5
        merged = merge_lora(reloaded)
        assert not any("lora_" in n for n, _ in merged.named_parameters())
        assert (merged(ids).logits - ref).abs().max() <= 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_model_folder_round_trip_is_bit_identical(name, tmp_path):
    torch.manual_seed(5)
    m = MODELS[name](cfg(name=name)).eval()
    (tmp_path / "tok.json").write_text("{}")
    save_model_folder(m, tmp_path / "m", tokenizer_file=tmp_path / "tok.json")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.safetensors", "model_config.json", "tokenizer.json"}
    m2 = load_model_folder(tmp_path / "m").eval()
    ids = torch.randint(3, 97, (2, 16))
    with torch.no_grad(): assert torch.equal(m2(ids).logits, m(ids).logits)


def test_loading_a_folder_into_another_architecture_names_the_keys(tmp_path):
    save_model_folder(build_gpt(cfg()), tmp_path)
    meta = json.loads((tmp_path / "model_config.json").read_text())
    (tmp_path / "model_config.json").write_text(json.dumps({**meta, **LLAMA_SHAPE, "bias": False}))
    with pytest.raises(Exception) as e: load_model_folder(tmp_path)
    msg = str(e.value)
    assert "does not fit the gpt architecture" in msg and "unexpected" in msg and "transformer.wpe.weight" in msg
    assert "transformer.h.0.attn.c_attn.bias" in msg


def test_lora_that_applies_nothing_raises():
    with pytest.raises(Exception, match="could not apply LoRA|applied no LoRA"):
        apply_lora(build_gpt(cfg()), targets=["no_such_layer"])


@pytest.mark.parametrize("override,needles", [
    ("model.name=gtp", ["unknown model 'gtp' (did you mean 'gpt'?)", "available: gpt, hf-gpt2, hf-llama, minilm"]),
    ("model.n_head=5", ["model.n_embd=64 must be divisible by model.n_head=5"]),
    ("model.preset=2m", ["choose one of tiny, 1m, 10m, 124m"]),
])
def test_bad_model_config_exits_2(override, needles):
    assert_usage_error(run([ROOT / ".venv/bin/codex-validate-config", "configs/tiny.yaml", override]), "codex-validate-config", *needles)


def test_random_init_loss_is_uniform_for_every_model():
    for name in NAMES:
        m = MODELS[name](cfg(name=name))
        ids, labels = torch.randint(3, 97, (2, 4, 32))
        with torch.no_grad(): assert abs(float(m(ids, labels=labels).loss) - math.log(97)) < 0.3, name
    assert asdict(BASE)["vocab_size"] == 97


@pytest.mark.parametrize("name", ["gpt", "hf-gpt2", "hf-llama"])
def test_labels_equal_to_input_ids_train_the_next_token_not_the_identity(name):
    "transformers' habit, `labels=input_ids`, trains next-token prediction: after training on a cycle, every position predicts the token after it."
    torch.manual_seed(0)
    m = MODELS[name](cfg(name=name))
    x = (torch.arange(32)[None] * 7 % 97).repeat(4, 1)  # a fixed sequence: the next token is known, and differs from the current one
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(60): m(x, labels=x).loss.backward(); opt.step(); opt.zero_grad()
    pred = m.eval()(x).logits.argmax(-1)
    assert torch.equal(pred[:, :-1], x[:, 1:])  # a model that did not shift would predict x itself (the identity)
    assert not torch.equal(pred[:, :-1], x[:, :-1])


@pytest.mark.parametrize("name", ["gpt", "hf-gpt2"])
def test_labels_shifted_by_the_caller_are_refused_not_shifted_twice(name):
    x = torch.randint(3, 97, (2, 16))
    with pytest.raises(Exception, match="pass labels=input_ids"): MODELS[name](cfg(name=name))(x[:, :-1], labels=x[:, 1:])
    with pytest.raises(Exception, match="pass labels=input_ids"): MODELS[name](cfg(name=name))(x, labels=x.roll(-1, 1))
    out = MODELS[name](cfg(name=name))(x, labels=x)  # negative control: unshifted labels pass, and count T - 1 predictions a row
    assert int(out.n_tokens) == 2 * 15 and torch.equal(out.targets[:, :-1], x[:, 1:])


MODERN = dict(pos_embedding="rope", norm="rmsnorm", bias=False, mlp="relu2", qk_norm=True, tie_embeddings=False, logit_softcap=30.0)


@pytest.mark.parametrize("shape", [GPT2_SHAPE, MODERN, dict(MODERN, mlp="gelu", tie_embeddings=True, logit_softcap=0.0)],
                         ids=["gpt2", "modern", "default-recipe"])
def test_no_position_sees_a_later_token(shape):
    "Changing the tokens after position t changes no logit at or before t, for every option of the modern recipe (in bf16 too)."
    torch.manual_seed(0)
    m = build_gpt(cfg(**shape)).eval()
    a = torch.randint(0, 97, (2, 48))
    b = a.clone(); b[:, 30:] = torch.randint(0, 97, (2, 18))
    for dtype in (torch.float32, torch.bfloat16):
        with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            la, lb = m(a).logits.float(), m(b).logits.float()
        assert torch.equal(la[:, :30], lb[:, :30])
        assert (la[:, 30:] - lb[:, 30:]).abs().max() > 1e-3  # negative control: the later positions do change
