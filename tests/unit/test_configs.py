"The shipped recipes: default.yaml documents every key of the schema; tiny.yaml is the contract's tiny run."
import re

from codex_nb.config import Config, load_config, schema_keys

from conftest import ROOT


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


def test_default_yaml_documents_every_schema_key():
    keys = documented_keys(ROOT / "configs/default.yaml")
    sections = {k.split(".")[0] for k in schema_keys() if "." in k}
    assert set(keys) == set(schema_keys()) | sections
    assert all(keys.values()), [k for k, documented in keys.items() if not documented]


def test_default_yaml_is_the_schema_defaults():
    assert load_config(ROOT / "configs/default.yaml") == Config()


def test_tiny_yaml_is_the_contract_tiny_run():
    c = load_config(ROOT / "configs/tiny.yaml")
    m, t = c.model, c.training
    assert (m.name, m.pos_embedding, m.norm, m.mlp, m.dropout, m.block_size) == ("gpt", "learned", "layernorm", "gelu", 0.0, 64)
    params = 12 * m.n_layer * m.n_embd**2 + c.tokenizer.vocab_size * m.n_embd + m.block_size * m.n_embd
    assert 50_000 <= params <= 200_000, params
    assert c.tokenizer.kind == "bpe"
    assert (t.num_threads, t.log_every, t.max_steps, t.device) == (1, 1, 100, "cpu")
    assert c.tracking.enabled is False and c.tracking.uri is None
    assert c.deterministic is True
