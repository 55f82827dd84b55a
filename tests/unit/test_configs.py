"The shipped recipes: default.yaml and gpt2-adamw.yaml document every key of the schema; gpt2-adamw.yaml is the schema's defaults; tiny.yaml is the contract's tiny run."
import re
import sys

import pytest

from codex_nb.config import Config, flatten, load_config, schema_keys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from make_configs import RECIPE  # noqa: E402


def documented_keys(path):
    "Dotted keys of a YAML file written one key per line, each mapped to whether a comment line precedes it."
    out, stack, prev = {}, [], ""
    for line in path.read_text().splitlines():
        m = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):", line)
        if m:
            depth = len(m[1]) // 2
            stack = stack[:depth] + [m[2]]
            out[".".join(stack)] = prev.lstrip().startswith("#") and len(prev.lstrip()) > 2
        if line.strip(): prev = line
    return out


@pytest.mark.parametrize("recipe", ["default.yaml", "gpt2-adamw.yaml"])
def test_full_recipes_document_every_schema_key(recipe):
    keys = documented_keys(ROOT / "configs" / recipe)
    sections = {k.split(".")[0] for k in schema_keys() if "." in k}
    assert set(keys) == set(schema_keys()) | sections
    assert all(keys.values()), [k for k, documented in keys.items() if not documented]


def test_gpt2_adamw_yaml_is_the_schema_defaults_in_fp32_and_default_yaml_differs_in_the_recipe_alone():
    base = load_config(ROOT / "configs/gpt2-adamw.yaml")
    assert base == load_config(None, ["training.precision=fp32"])
    assert (base.model.pos_embedding, base.model.norm, base.model.mlp, base.model.tie_embeddings) == ("learned", "layernorm", "gelu", True)
    assert (base.training.optimizer, base.training.schedule, base.training.max_steps) == ("adamw", "cosine", 500)
    default = flatten(load_config(ROOT / "configs/default.yaml"))
    changed = {k: v for k, v in default.items() if v != flatten(Config())[k]}
    assert changed == RECIPE, "configs/default.yaml is written by tools/make_configs.py from its RECIPE"


def test_tiny_yaml_is_the_contract_tiny_run():
    c = load_config(ROOT / "configs/tiny.yaml")
    m, t = c.model, c.training
    assert (m.name, m.pos_embedding, m.norm, m.mlp, m.dropout, m.block_size) == ("gpt", "learned", "layernorm", "gelu", 0.0, 64)
    assert (m.qk_norm, m.tie_embeddings, m.zero_init, m.logit_softcap) == (False, True, False, 0.0)
    assert (t.optimizer, t.schedule, t.precision) == ("adamw", "cosine", "fp32")
    pinned = documented_keys(ROOT / "configs/tiny.yaml")  # written in the file, so a new default recipe never changes the tiny run
    assert {"training.optimizer", "training.schedule", "training.precision", "model.qk_norm", "model.tie_embeddings"} <= set(pinned)
    params = 12 * m.n_layer * m.n_embd**2 + c.tokenizer.vocab_size * m.n_embd + m.block_size * m.n_embd
    assert 50_000 <= params <= 200_000, params
    assert c.tokenizer.kind == "bpe"
    assert (t.num_threads, t.log_every, t.max_steps, t.device) == (1, 1, 100, "cpu")
    assert c.tracking.enabled is False and c.tracking.uri is None
    assert c.deterministic is True
