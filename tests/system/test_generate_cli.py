"""`codex-generate`, `codex-export-hf` and `codex-import-hf` through the real commands, on a real tiny run:
stdout is exactly prompt + completion, streaming and prompt files agree, the export reloads offline in
transformers with the same greedy text, an imported model fine-tunes with LoRA and resumes exactly."""
import json
import sys

import pytest
from safetensors.torch import load_file

from codex_nb.generation import generate, load_for_inference
from codex_nb.learner import read_metrics

from conftest import BIN, TINY, assert_usage_error, run, tiny_model

GEN = BIN / "codex-generate"


def train(tmp, name, *extra, expect=0):
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp / name}", f"run.root={tmp / 'runs'}", "--quiet", *extra], cwd=tmp)
    assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
    return tmp / name


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gen")
    return tmp, train(tmp, "base", "training.max_steps=60", "checkpoint.every=0")


def test_stdout_is_exactly_the_prompt_and_its_completion(trained):
    tmp, run_dir = trained
    r = run([GEN, "--checkpoint", run_dir, "--prompt", "def ", "--temperature", "0", "--max-new-tokens", "24"])
    assert r.returncode == 0, r.stderr
    model, tok, _ = load_for_inference(run_dir)
    assert r.stdout == "def " + generate(model, tok, "def ", 24, temperature=0).text
    assert len(r.stdout) > len("def ")


def test_stream_and_prompt_file_give_the_same_text(trained):
    tmp, run_dir = trained
    common = ["--checkpoint", run_dir, "--temperature", "0.9", "--top-k", "20", "--top-p", "0.9", "--seed", "5", "--max-new-tokens", "30"]
    plain = run([GEN, *common, "--prompt", "import os\n"])
    streamed = run([GEN, *common, "--prompt", "import os\n", "--stream", "--safety", "dangerous_code=warn"])  # a policy that cannot block streams live
    (tmp / "prompt.txt").write_text("import os\n")
    from_file = run([GEN, *common, "--prompt-file", tmp / "prompt.txt"])
    assert plain.returncode == streamed.returncode == from_file.returncode == 0, plain.stderr + streamed.stderr
    assert plain.stdout == streamed.stdout == from_file.stdout
    assert plain.stdout.startswith("import os\n")


def test_stop_sequence_is_not_printed(trained):
    tmp, run_dir = trained
    full = run([GEN, "--checkpoint", run_dir, "--prompt", "def ", "--temperature", "0", "--max-new-tokens", "40"]).stdout
    r = run([GEN, "--checkpoint", run_dir, "--prompt", "def ", "--temperature", "0", "--max-new-tokens", "40", "--stop", "(", ":"])
    cut = min([i for i in (full.find("(", 4), full.find(":", 4)) if i >= 0], default=len(full))
    assert r.stdout == full[:cut]


@pytest.mark.parametrize("args,needle", [(["--prompt", ""], "prompt is empty"), (["--prompt", "x", "--top-p", "0"], "top_p must be in (0, 1]"),
                                         (["--prompt", "x", "--top-p", "1.5"], "top_p must be in (0, 1]"),
                                         (["--prompt", "x", "--temperature", "-1"], "temperature")])
def test_bad_generation_input_exits_2(trained, args, needle):
    assert_usage_error(run([GEN, "--checkpoint", trained[1], *args]), "codex-generate", needle)


def test_a_path_that_is_no_checkpoint_exits_2(tmp_path):
    assert_usage_error(run([GEN, "--checkpoint", tmp_path, "--prompt", "x"]), "codex-generate", "not a checkpoint")
    assert_usage_error(run([BIN / "codex-export-hf", "--checkpoint", tmp_path, "--out", tmp_path / "o"]), "codex-export-hf", "not a checkpoint")


def test_export_loads_offline_in_transformers_with_the_same_greedy_text(trained, tmp_path):
    _, run_dir = trained
    r = run([BIN / "codex-export-hf", "--checkpoint", run_dir, "--out", tmp_path / "hf"])
    assert r.returncode == 0, r.stderr
    assert "GPT2LMHeadModel" in r.stdout
    ours = run([GEN, "--checkpoint", run_dir, "--prompt", "class ", "--temperature", "0", "--max-new-tokens", "20"]).stdout
    code = ("import sys\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
            "m = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval(); t = AutoTokenizer.from_pretrained(sys.argv[1])\n"
            "x = t('class ', return_tensors='pt')\n"
            "out = m.generate(**x, max_new_tokens=20, do_sample=False)\n"
            "sys.stdout.write('class ' + t.decode(out[0, x.input_ids.size(1):], skip_special_tokens=True))\n")
    hf = run([sys.executable, "-c", code, tmp_path / "hf"], env={"HF_HUB_OFFLINE": "1"})
    assert hf.returncode == 0, hf.stderr
    assert hf.stdout == ours
    gen_cfg = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert gen_cfg["eos_token_id"] == json.loads((run_dir / "data" / "manifest.json").read_text())["tokenizer"]["eot_id"]
    again = run([BIN / "codex-export-hf", "--checkpoint", run_dir, "--out", tmp_path / "hf"])
    assert_usage_error(again, "codex-export-hf", "not an empty folder")


def test_non_exportable_model_exits_2_listing_what_exports(trained, tmp_path):
    import torch
    from codex_nb.models import build_gpt, save_model_folder
    _, run_dir = trained
    vocab = json.loads((run_dir / "data" / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    torch.manual_seed(0)
    mixed = build_gpt(tiny_model(vocab_size=vocab, pos_embedding="rope"))  # RoPE with LayerNorm and GELU
    save_model_folder(mixed, tmp_path / "m", run_dir / "tokenizer" / "tokenizer.json")
    r = run([BIN / "codex-export-hf", "--checkpoint", tmp_path / "m", "--out", tmp_path / "hf"])
    assert_usage_error(r, "codex-export-hf", "exportable: learned + layernorm + gelu (GPT-2) or rope + rmsnorm + swiglu (Llama)")
    assert not (tmp_path / "hf").exists()


def test_imported_model_fine_tunes_with_lora_and_resumes_exactly(trained, tmp_path):
    tmp, run_dir = trained
    assert run([BIN / "codex-export-hf", "--checkpoint", run_dir, "--out", tmp_path / "hf"]).returncode == 0
    r = run([BIN / "codex-import-hf", tmp_path / "hf", "--out", tmp_path / "imported"])
    assert r.returncode == 0, r.stderr
    ft = ["model.init_from=" + str(tmp_path / "imported"), "model.lora_r=4", "training.lr=3e-3", "checkpoint.every=10",
          "training.warmup_steps=0", "training.schedule=constant", "training.eval_every=0"]  # constant: extending = uninterrupted
    whole = train(tmp, "ft-whole", *ft, "training.max_steps=20")
    half = train(tmp, "ft-half", *ft, "training.max_steps=10")
    train(tmp, "ft-half", *ft, "training.max_steps=20", "--resume-from", "auto")
    final = lambda d: d / "checkpoints" / (d / "checkpoints" / "LATEST").read_text().strip()
    assert (final(whole) / "adapter_model.safetensors").read_bytes() == (final(half) / "adapter_model.safetensors").read_bytes()
    trained_b = [v for k, v in load_file(str(final(whole) / "adapter_model.safetensors")).items() if "lora_B" in k]
    assert trained_b and all(v.abs().sum() > 0 for v in trained_b)  # LoRA's B starts at zero: the equality above is of trained adapters
    lw = {k: v["loss"] for k, v in read_metrics(whole / "metrics.ndjson").items() if k[0] == "train"}
    lh = {k: v["loss"] for k, v in read_metrics(half / "metrics.ndjson").items() if k[0] == "train"}
    assert lw == lh and len(lw) == 20
    # only the adapters trained: the base in the checkpoint is the imported model, bit for bit
    base, imported = load_file(str(final(whole) / "model.safetensors")), load_file(str(tmp_path / "imported" / "model.safetensors"))
    assert sorted(base) == sorted(imported) and all((base[k] == imported[k]).all() for k in base)
    # it started from the trained weights: the first loss is far below a random start's
    random_start = read_metrics(run_dir / "metrics.ndjson")[("train", 1)]["loss"]
    assert lw[("train", 1)] < random_start - 1.0, (lw[("train", 1)], random_start)
    g = run([GEN, "--checkpoint", whole, "--prompt", "def ", "--temperature", "0", "--max-new-tokens", "10"])
    assert g.returncode == 0 and g.stdout.startswith("def "), g.stderr


def test_lora_without_init_from_is_refused(tmp_path):
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp_path / 'r'}", f"run.root={tmp_path / 'runs'}", "model.lora_r=4", "--quiet"], cwd=tmp_path)
    assert_usage_error(r, "codex-train", "model.init_from")


def test_prompt_file_is_read_exactly_and_stop_escapes_work(trained, tmp_path):
    _, run_dir = trained
    (tmp_path / "crlf.txt").write_bytes(b"x = 1\r\ny = 2\r\n")
    r = run([GEN, "--checkpoint", run_dir, "--prompt-file", tmp_path / "crlf.txt", "--max-new-tokens", "0"], text=False)
    assert r.returncode == 0 and r.stdout == b"x = 1\r\ny = 2\r\n", r.stderr
    for seed in range(20):  # a sample that has a newline in its completion
        args = [GEN, "--checkpoint", run_dir, "--prompt", "def ", "--temperature", "1", "--seed", str(seed), "--max-new-tokens", "60"]
        full = run(args).stdout
        if "\n" in full[4:]: break
    assert "\n" in full[4:]
    assert run([*args, "--stop", "\\n"]).stdout == full[:full.index("\n", 4)]


@pytest.mark.parametrize("args,needle", [(["--seed", "99999999999999999999"], "seed"), (["--device", "bogus"], "--device=bogus")])
def test_more_bad_generation_input_exits_2(trained, args, needle):
    assert_usage_error(run([GEN, "--checkpoint", trained[1], "--prompt", "x", *args]), "codex-generate", needle)


def test_export_to_the_current_empty_folder(trained, tmp_path):
    (tmp_path / "here").mkdir()
    r = run([BIN / "codex-export-hf", "--checkpoint", trained[1], "--out", "."], cwd=tmp_path / "here")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "here" / "config.json").is_file()


def test_a_fine_tune_from_a_run_folder_resumes_after_the_source_run_moved_on(tmp_path):
    base = train(tmp_path, "src", "training.max_steps=20", "checkpoint.every=10", "checkpoint.keep_last=1", "checkpoint.keep_best=0")
    ft = ["model.init_from=" + str(base), "model.lora_r=2", "checkpoint.every=5", "training.eval_every=0"]
    train(tmp_path, "ft", *ft, "training.max_steps=5")
    saved = (tmp_path / "ft" / "config.yaml").read_text()
    assert "tokenizer.path" not in saved and "path: " + str(base / "checkpoints" / "step-00000020") in saved
    train(tmp_path, "src", "training.max_steps=40", "checkpoint.every=10", "checkpoint.keep_last=1", "checkpoint.keep_best=0",
          "--resume-from", "auto")  # the source run's LATEST moves on, and step 20 is pruned
    assert not (base / "checkpoints" / "step-00000020").exists()
    train(tmp_path, "ft", *ft, "training.max_steps=10", "--resume-from", "auto")
    assert (tmp_path / "ft" / "checkpoints" / "LATEST").read_text().strip() == "step-00000010"


def test_resume_from_a_model_folder_points_to_init_from(tmp_path):
    import torch
    from codex_nb.models import build_gpt, save_model_folder
    torch.manual_seed(0)
    save_model_folder(build_gpt(tiny_model(vocab_size=50)), tmp_path / "m")
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp_path / 'r'}", "--resume-from", tmp_path / "m"], cwd=tmp_path)
    assert_usage_error(r, "codex-train", "not a checkpoint of a training run", "model.init_from")
    assert not (tmp_path / "r").exists()
