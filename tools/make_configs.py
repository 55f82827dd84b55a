"""Write configs/gpt2-adamw.yaml (the schema's defaults: GPT-2 shape, AdamW, cosine, fp32) and configs/default.yaml
(the best measured recipe: RECIPE below on top of the same schema), every key present and documented.

    .venv/bin/python tools/make_configs.py          # after a schema change or a new ablation result

Each key of RECIPE names the row of the recipes bench's ablation (bench/results/ablation.json) that justifies it.
"""
from pathlib import Path

from codex_nb.config import config_yaml, flatten, load_config

ROOT = Path(__file__).resolve().parent.parent

RECIPE = {  # key: value, and the screening row that paid for it (benchmarks page, "How the recipe was chosen")
    "training.optimizer": "muon",  # ablation.json +muon: -5.6%; screen-removal.json adamw-only: +10.6%
    "model.pos_embedding": "rope", "model.norm": "rmsnorm", "model.bias": False,  # ablation.json +rope-rmsnorm: -2.9%
    "model.qk_norm": True,  # ablation.json +qk-norm: -3.3% (on the rung's narrower ReLU² MLP); screen-removal.json no-qk-norm: +2.8%
    "training.schedule": "wsd",  # ablation.json +wsd: -2.2% (on ReLU² and an untied head); screen-removal.json cosine: -0.9% (more steps): below resolution either way; kept as the final bench measured it
    "training.lr": 0.016,  # screen.json adamw-lr-0.008: -4.1%; screen-lr.json lr-0.016: -2.0% more
    "training.max_steps": 600,  # about the baseline's 500 steps' time in bf16 (precision auto) on the bench's machine
}

BASELINE = {"training.precision": "fp32"}  # today's CPU behaviour pinned: the baseline never turns bf16 on by itself

CALLBACKS = ("  # callbacks added to the core ones, by name from the `callbacks` registry (plugins add them): each a name or `{name: {option: value}}`",
             "  # callbacks added to the core ones, by name from the `callbacks` registry (plugins add them, see `codex-registry callbacks`):\n"
             "  # each a name or `{name: {option: value}}`, e.g. [my-callback, {other: {every: 10}}]")

HEADERS = {
    "default.yaml": """codex_nb: the main job's recipe, every key of the schema with its documentation.
`make demo` (and `codex-train` without a CONFIG) runs this file. Override any key on the command
line as key=value, e.g. `codex-train configs/default.yaml training.lr=3e-4 model.n_layer=6`.
The recipe is the best one the recipes bench measured (bench/bench_recipes.py, the benchmarks page):
{changes}.
Keys not listed there keep the schema's defaults, which are configs/gpt2-adamw.yaml's.
Keys and comments are generated from the schema in nbs/00_config.ipynb by tools/make_configs.py;
tests check that every key is here and documented.""",
    "gpt2-adamw.yaml": """codex_nb: the baseline recipe, nanoGPT's: GPT-2 shape (learned positions, LayerNorm, GELU, tied head),
AdamW, cosine schedule, 500 steps, fp32. It is the schema's defaults (with precision pinned to fp32) and was
configs/default.yaml until the recipes bench measured a better one; the bench compares against it. (On a CUDA GPU the
old default's precision auto meant bf16; this file pins fp32, which is what it meant on a CPU.)
Keys and comments are generated from the schema in nbs/00_config.ipynb by tools/make_configs.py.""",
}


def write(name:str, overrides:dict):
    cfg = load_config(None, [f"{k}={v}" for k, v in overrides.items()])
    changes = ",\n".join(f"  {k}={v}" for k, v in RECIPE.items()) or "the schema's defaults"
    text = config_yaml(cfg, header=HEADERS[name].format(changes=changes)).replace(*CALLBACKS)
    (ROOT / "configs" / name).write_text(text)
    assert flatten(load_config(ROOT / "configs" / name)) == flatten(cfg), name


if __name__ == "__main__":
    write("gpt2-adamw.yaml", BASELINE)
    write("default.yaml", {**BASELINE, "training.precision": "auto", **RECIPE})
