"""Generation and Hugging Face interop, in-process: KV-cache parity, batched-vs-single parity, export parity in
logits and greedy tokens for both `gpt` shapes and the `hf-*` models, import-then-export identity, refusals."""
import os

import pytest
import torch
from safetensors.torch import load_file

from codex_nb.config import ModelConfig, UsageError
from codex_nb.models import export_hf, import_hf
from codex_nb.generation import generate, load_for_inference, stream
from codex_nb.models import apply_lora, build_hf_gpt2, build_hf_llama, build_minilm, GPT, load_model_folder, save_model_folder
from codex_nb.tokenization import EOT, train_tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"

GPT2_SHAPE = dict(pos_embedding="learned", norm="layernorm", mlp="gelu")
LLAMA_SHAPE = dict(pos_embedding="rope", norm="rmsnorm", mlp="swiglu")
PROMPTS = ["def f(x):", "import os", "class A:\n    def __init__(self):\n        self.x = 1\n    def"]


@pytest.fixture(scope="module")
def tok():
    docs = ["def f(x):\n    return x + 1\n", "import os\nprint(os.getcwd())\n", "class A:\n    pass\n"] * 30
    return train_tokenizer(iter(docs), "bpe", 300, show_progress=False)


def make(tok, name="gpt", bias=True, **shape):
    cfg = ModelConfig(name=name, n_layer=2, n_head=4, n_embd=64, block_size=64, bias=bias, vocab_size=tok.get_vocab_size(), **shape)
    torch.manual_seed(0)
    builder = {"gpt": GPT, "hf-gpt2": build_hf_gpt2, "hf-llama": build_hf_llama, "minilm": build_minilm}[name]
    model = builder(cfg).eval()
    with torch.no_grad():  # random weights, but wide enough that greedy text varies (at std 0.02 it repeats one token)
        for p in model.parameters():
            if p.dim() == 2: p.normal_(std=0.2)
    return model


def folder_of(model, tok, tmp, name="m"):
    tok.save(str(tmp / "tokenizer.json"))
    return save_model_folder(model, tmp / name, tmp / "tokenizer.json")


MODERN_SHAPE = dict(pos_embedding="rope", norm="rmsnorm", mlp="relu2", qk_norm=True, tie_embeddings=False, logit_softcap=30.0)


@pytest.mark.parametrize("name,shape", [("gpt", GPT2_SHAPE), ("gpt", LLAMA_SHAPE), ("gpt", MODERN_SHAPE), ("hf-gpt2", GPT2_SHAPE), ("hf-llama", LLAMA_SHAPE)])
def test_greedy_with_kv_cache_equals_greedy_without(tok, name, shape):
    model = make(tok, name, **shape)
    with_cache = generate(model, tok, PROMPTS, max_new_tokens=30, temperature=0)
    without = generate(model, tok, PROMPTS, max_new_tokens=30, temperature=0, use_cache=False)
    assert [g.token_ids for g in with_cache] == [g.token_ids for g in without]
    assert any(len(g.token_ids) > 5 for g in with_cache)


@pytest.mark.parametrize("name,shape", [("gpt", GPT2_SHAPE), ("gpt", LLAMA_SHAPE), ("hf-gpt2", GPT2_SHAPE), ("hf-llama", LLAMA_SHAPE)])
def test_batched_left_padded_prompts_equal_one_at_a_time(tok, name, shape):
    model = make(tok, name, **shape)
    greedy = generate(model, tok, PROMPTS, max_new_tokens=25, temperature=0)
    sampled = generate(model, tok, PROMPTS, max_new_tokens=25, temperature=1.0, top_p=0.95, seed=11)
    for i, p in enumerate(PROMPTS):
        assert greedy[i].token_ids == generate(model, tok, p, 25, temperature=0).token_ids
        assert sampled[i].token_ids == generate(model, tok, p, 25, temperature=1.0, top_p=0.95, seed=11 + i).token_ids


def test_negative_control_without_position_correction_batches_differ(tok):
    "If left padding shifted positions, batched output would differ: feeding padding as real tokens changes it."
    model = make(tok, "gpt", **GPT2_SHAPE)
    pad_as_text = generate(model, tok, "<|pad|>" * 20 + PROMPTS[0], 25, temperature=0)
    assert pad_as_text.token_ids != generate(model, tok, PROMPTS[0], 25, temperature=0).token_ids


def test_seeded_sampling_is_reproducible_and_seeds_differ(tok):
    model = make(tok, "gpt", **GPT2_SHAPE)
    a, b = (generate(model, tok, PROMPTS[0], 30, temperature=1.5, seed=s).token_ids for s in (1, 1))
    c = generate(model, tok, PROMPTS[0], 30, temperature=1.5, seed=2).token_ids
    assert a == b and a != c


def test_stream_pieces_join_to_the_completion_and_stop_is_honoured(tok):
    model = make(tok, "gpt", **GPT2_SHAPE)
    full = generate(model, tok, PROMPTS[1], 30, temperature=0)
    assert "".join(stream(model, tok, PROMPTS[1], max_new_tokens=30, temperature=0)) == full.text
    if len(full.text) > 3:
        stop = full.text[2:4]
        cut = generate(model, tok, PROMPTS[1], 30, temperature=0, stop=[stop])
        assert cut.finish_reason == "stop" and cut.text == full.text[:full.text.find(stop)]


def test_generation_stops_at_the_context_length(tok):
    model = make(tok, "gpt", **GPT2_SHAPE)
    g = generate(model, tok, "x = 1\n" * 5, max_new_tokens=500, temperature=1.0, seed=0)
    n_prompt = len(tok.encode("x = 1\n" * 5).ids)
    assert g.finish_reason in ("context", "eot")
    if g.finish_reason == "context": assert n_prompt + len(g.token_ids) == 64


@pytest.mark.parametrize("bad,msg", [(dict(top_p=0.0), "top_p must be in (0, 1]"), (dict(top_p=1.2), "top_p must be in (0, 1]"),
                                     (dict(temperature=-0.1), "temperature"), (dict(max_new_tokens=-1), "max_new_tokens")])
def test_bad_sampling_settings_are_refused(tok, bad, msg):
    with pytest.raises(UsageError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        generate(make(tok), tok, "x", **{"max_new_tokens": 5, **bad})


def test_empty_prompt_is_refused(tok):
    with pytest.raises(UsageError, match="prompt is empty"): generate(make(tok), tok, "", 5)


def hf_greedy(out_dir, prompt, n):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    hf, hf_tok = AutoModelForCausalLM.from_pretrained(out_dir).eval(), AutoTokenizer.from_pretrained(out_dir)
    enc = hf_tok(prompt, return_tensors="pt")
    out = hf.generate(**enc, max_new_tokens=n, do_sample=False)
    return hf, out[0, enc.input_ids.size(1):].tolist()


@pytest.mark.parametrize("name,shape,bias", [("gpt", GPT2_SHAPE, True), ("gpt", GPT2_SHAPE, False), ("gpt", LLAMA_SHAPE, False),
                                             ("gpt", LLAMA_SHAPE, True), ("hf-gpt2", GPT2_SHAPE, True), ("hf-llama", LLAMA_SHAPE, False)])
def test_export_matches_logits_and_greedy_tokens(tok, tmp_path, name, shape, bias):
    model = make(tok, name, bias=bias, **shape)
    s = export_hf(folder_of(model, tok, tmp_path), tmp_path / "hf")
    assert s["architecture"] == ("GPT2LMHeadModel" if shape == GPT2_SHAPE else "LlamaForCausalLM")
    ours = generate(model, tok, PROMPTS[0], 20, temperature=0)
    hf, hf_ids = hf_greedy(tmp_path / "hf", PROMPTS[0], 20)
    assert hf_ids == ours.token_ids  # eot included on both sides when it ended the text
    x = torch.randint(tok.get_vocab_size(), (3, 40))
    with torch.no_grad(): assert (hf(input_ids=x).logits - model(x).logits).abs().max() <= 1e-4
    assert hf.generation_config.eos_token_id == tok.token_to_id(EOT)


def test_export_merges_lora_adapters(tok, tmp_path):
    model = make(tok, "gpt", **LLAMA_SHAPE)
    lora = apply_lora(model, r=4)
    with torch.no_grad():
        for n, p in lora.named_parameters():
            if "lora_B" in n: p.normal_(std=0.5)  # B starts at zero: make the adapter matter
    save_model_folder(lora, tmp_path / "m", None)
    tok.save(str(tmp_path / "m" / "tokenizer.json"))
    export_hf(tmp_path / "m", tmp_path / "hf")
    hf, _ = hf_greedy(tmp_path / "hf", PROMPTS[0], 2)
    x = torch.randint(tok.get_vocab_size(), (2, 30))
    with torch.no_grad():
        assert (hf(input_ids=x).logits - lora(x).logits).abs().max() <= 1e-4
        assert (hf(input_ids=x).logits - make(tok, "gpt", **LLAMA_SHAPE)(x).logits).abs().max() > 1e-2  # the adapter counted


@pytest.mark.parametrize("shape", [GPT2_SHAPE, LLAMA_SHAPE, dict(LLAMA_SHAPE, tie_embeddings=False), dict(GPT2_SHAPE, tie_embeddings=False)],
                         ids=["gpt2", "llama", "llama-untied", "gpt2-untied"])
def test_import_then_export_is_the_identity_on_the_weights(tok, tmp_path, shape):
    model = make(tok, "gpt", **shape)
    export_hf(folder_of(model, tok, tmp_path), tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "imported")
    export_hf(tmp_path / "imported", tmp_path / "hf2")
    a, b = load_file(str(tmp_path / "hf" / "model.safetensors")), load_file(str(tmp_path / "hf2" / "model.safetensors"))
    assert sorted(a) == sorted(b)
    for k in a: assert torch.equal(a[k], b[k]), k
    m2, tok2, _ = load_for_inference(tmp_path / "imported")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in m2.state_dict().items())


def test_non_exportable_models_are_refused_with_the_list(tok, tmp_path):
    mixed = make(tok, "gpt", pos_embedding="rope", norm="layernorm", mlp="gelu")
    with pytest.raises(UsageError, match="exportable: learned"): export_hf(folder_of(mixed, tok, tmp_path), tmp_path / "hf")
    enc = make(tok, "minilm")
    with pytest.raises(UsageError, match="exportable: gpt GPT-2-shaped"): export_hf(folder_of(enc, tok, tmp_path, "e"), tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_import_refuses_what_gpt_cannot_represent(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM
    c = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=32, tie_word_embeddings=True)
    LlamaForCausalLM(c).save_pretrained(tmp_path / "gqa")
    with pytest.raises(UsageError, match="grouped-query attention"): import_hf(tmp_path / "gqa", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    c.num_key_value_heads, c.tie_word_embeddings = 4, False  # an untied head imports as tie_embeddings=False
    LlamaForCausalLM(c).save_pretrained(tmp_path / "untied")
    with pytest.warns(UserWarning, match="no tokenizer.json"): import_hf(tmp_path / "untied", tmp_path / "out")
    m = load_model_folder(tmp_path / "out")
    assert m.model_config.tie_embeddings is False and not torch.equal(m.lm_head.weight, m.transformer.wte.weight)


def test_a_path_that_is_no_checkpoint_is_refused(tmp_path):
    with pytest.raises(UsageError, match="not a checkpoint"): load_for_inference(tmp_path)
    with pytest.raises(UsageError, match="no such file"): load_for_inference(tmp_path / "nope")


def stdlib_docs():
    import json
    from pathlib import Path
    return [p.read_text() for p in sorted(Path(json.__file__).parent.glob("*.py"))]


@pytest.mark.parametrize("kind", ["sp-unigram", "sp-bpe", "wordpiece", "unigram", "bpe"])
def test_streamed_text_is_the_final_text_for_every_tokenizer_kind(kind):
    "Byte-fallback decoders rewrite a run of byte tokens once it turns invalid: settled text must not change."
    tk = train_tokenizer(iter(stdlib_docs() + ["s = 'naïve café'\n"] * 10), kind, 600, show_progress=False)
    model = make(tk, "gpt", **GPT2_SHAPE)
    for seed in range(12):
        kw = dict(max_new_tokens=30, temperature=3.0, seed=seed)
        full = generate(model, tk, "s = '日本", **kw)
        assert "".join(stream(model, tk, "s = '日本", **kw)) == full.text


def test_a_completed_character_survives_a_later_incomplete_one():
    from codex_nb.generation import TextStream
    tk = train_tokenizer(iter(stdlib_docs()), "sp-unigram", 600, show_progress=False)
    byte = lambda b: tk.token_to_id(f"<0x{b:02X}>")
    ids = [byte(b) for b in "日本語".encode()] + [byte(0xE6)]
    ts = TextStream(tk, tk.encode("x = ").ids)
    shown = "".join(ts.push(i) for i in ids) + ts.finish()
    assert shown == ts.text == "日本語\ufffd"


def test_a_tiny_temperature_is_greedy_not_a_crash(tok):
    model = make(tok)
    assert generate(model, tok, PROMPTS[0], 10, temperature=1e-45).token_ids == generate(model, tok, PROMPTS[0], 10, temperature=0).token_ids


def test_export_of_a_tokenizer_without_our_special_tokens_declares_only_what_it_has(tmp_path):
    "An imported GPT-2 tokenizer has <|endoftext|> only: the export must not add tokens beyond the model's rows."
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    t = Tokenizer(models.BPE())
    t.pre_tokenizer, t.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    t.train_from_iterator(["def f(x):\n    return x\n"] * 50, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    eos = t.token_to_id("<|endoftext|>")
    c = GPT2Config(vocab_size=t.get_vocab_size(), n_positions=64, n_embd=32, n_layer=1, n_head=2, bos_token_id=eos, eos_token_id=eos)
    GPT2LMHeadModel(c).save_pretrained(tmp_path / "gpt2")
    t.save(str(tmp_path / "gpt2" / "tokenizer.json"))
    import_hf(tmp_path / "gpt2", tmp_path / "imported")
    export_hf(tmp_path / "imported", tmp_path / "hf")
    assert len(AutoTokenizer.from_pretrained(tmp_path / "hf")) == t.get_vocab_size()


def test_an_imported_llamas_own_end_token_ends_generation(tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM
    from codex_nb.tokenization import end_token_id
    t = Tokenizer(models.BPE())
    t.pre_tokenizer, t.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    t.train_from_iterator(["def f(x):\n    return x\n"] * 50, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"],
                                                                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    c = LlamaConfig(vocab_size=t.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                    num_key_value_heads=4, max_position_embeddings=64, tie_word_embeddings=True, bos_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    m = LlamaForCausalLM(c)
    with torch.no_grad(): m.model.embed_tokens.weight[1] += 5 * m.model.norm.weight.sign()  # make </s> likely, so generation meets it
    m.save_pretrained(tmp_path / "llama")
    t.save(str(tmp_path / "llama" / "tokenizer.json"))
    (tmp_path / "llama" / "tokenizer_config.json").write_text('{"eos_token": "</s>", "bos_token": "<s>"}')
    import_hf(tmp_path / "llama", tmp_path / "imported")
    model, tk, folder = load_for_inference(tmp_path / "imported")
    assert end_token_id(tk, folder) == 1
    g = generate(model, tk, "def f", 40, temperature=1.0, seed=0, eos_id=end_token_id(tk, folder))
    assert "</s>" not in g.text
    if 1 in g.token_ids: assert g.finish_reason == "eot" and g.token_ids[-1] == 1


def test_import_refuses_unscaled_gpt2_attention_by_name(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel
    GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=32, n_embd=32, n_layer=1, n_head=2, scale_attn_weights=False,
                               bos_token_id=0, eos_token_id=0)).save_pretrained(tmp_path / "g")
    with pytest.raises(UsageError, match="scale_attn_weights"): import_hf(tmp_path / "g", tmp_path / "out")
