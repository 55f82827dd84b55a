"""Any file given as a config: `load_config(path, overrides)` returns a Config or raises ConfigError/UsageError with one
line that names the file, an override or a config key, never another exception; `codex-validate-config FILE` on the
same file exits 0 or 2, with exactly one `codex-validate-config: ` line on 2 and no traceback."""
import re

import pytest
import yaml
from hypothesis import Phase, event, given, settings, strategies as st

from codex_nb.cli import validate_config_main
from codex_nb.config import Config, UsageError, load_config, schema_keys

from conftest import call_main

KEYS = schema_keys()
SECTIONS = sorted({k.split(".")[0] for k in KEYS})
FIELDS = {s: sorted({k.split(".", 1)[1] for k in KEYS if k.startswith(s + ".")}) for s in SECTIONS}

ODD = ["${x}", "${seed}", "${oc.env:HOME}", "${oc.decode:'1'}", "???", "~", "inf", ".nan", "-.inf", "1e999", "0x1F", "0o17", "1_000",
       "yes", "off", "2024-01-01", "12:30:00", "<<", "=", "*", "", " ", "\t", "é", "🙂", "\u2028"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.integers(), st.floats(), st.text(max_size=8), st.sampled_from(ODD),
                    st.binary(max_size=4), st.dates(), st.datetimes())
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5) | st.integers(), c, max_size=3),
                      max_leaves=6)
SECTION = st.one_of(st.sampled_from(SECTIONS).flatmap(lambda s: st.tuples(st.just(s), st.dictionaries(
    st.sampled_from(FIELDS[s] + ["nope", "Lr"]), VALUES, max_size=4))), st.tuples(st.sampled_from(KEYS + ["nope", "seed"]), VALUES))
DOCS = st.one_of(st.lists(SECTION, max_size=5).map(dict), VALUES,
                 st.dictionaries(st.integers() | st.none() | st.booleans() | st.text(max_size=4), VALUES, max_size=3))


def dump(doc) -> str:
    "YAML text of `doc` (dates and bytes use their YAML tags)."
    return yaml.safe_dump(doc, allow_unicode=True, default_flow_style=None)


RAW_YAML = st.sampled_from([
    "a: &x [1, 2]\nb: *x\n", "training: &t {lr: 0.1}\nmodel: *t\n", "<<: {seed: 3}\n", "seed: !!python/object:os.system x\n",
    "seed: !!set {1, 2}\n", "seed: !!omap [a: 1]\n", "seed: 1\nseed: 2\n", "? [a, b]\n: 1\n", "training:\n  lr: [1, 2\n", "%YAML 1.1\n---\nseed: 1\n",
    "---\nseed: 1\n---\nseed: 2\n", "\ufeffseed: 1\n", "seed: 1\r\nrun:\r\n  dir: x\r\n", "seed:\t1\n", "'seed': 1\n", "seed: 1 # c\n",
    "model:\n  name: gpt\n  n_head: 0\n", "data:\n  source: []\n", "data:\n  source: {a: 1}\n", "training:\n  lr: .inf\n",
    "safety:\n  dangerous_deny: ['(']\n", "safety:\n  kinds: [email]\n", "tracking:\n  uri: ${oc.env:NOPE_NOT_SET}\n",
])
DEEP = st.sampled_from([3, 30, 400]).map(lambda n: "seed: " + "[" * n + "]" * n + "\n")  # far from the recursion limit: not flaky
FILES = st.integers(0, 19).flatmap(lambda i: DEEP.map(str.encode) if i == 0 else st.one_of(  # deep nesting is slow to fail: rare
    DOCS.map(dump).map(str.encode), DOCS.map(dump).map(str.encode), st.text(max_size=60).map(str.encode), st.binary(max_size=60),
    RAW_YAML.map(str.encode)))
NO_EXPLAIN = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]  # explaining a RecursionError takes minutes
OVERRIDES = st.lists(st.sampled_from(KEYS).flatmap(lambda k: st.sampled_from(["1", "0", "-1", "null", "[]", "x", "1e999", "${seed}"]).map(
    lambda v: f"{k}={v}")), max_size=2)


@pytest.fixture(scope="module")
def cfg_file(tmp_path_factory):
    "One file, rewritten by every example."
    return tmp_path_factory.mktemp("cfg-fuzz") / "config.yaml"


def names_something(msg: str, path, overrides) -> bool:
    "The message names the file, an override, or a config key or section."
    if str(path) in msg or any(o in msg for o in overrides): return True
    return any(re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", msg) for k in KEYS + SECTIONS)


@settings(max_examples=100, deadline=None, phases=NO_EXPLAIN)
@given(content=FILES, overrides=OVERRIDES)
def test_any_config_file_gives_a_config_or_a_one_line_error_naming_something(cfg_file, content, overrides):
    "load_config: a Config, or a ConfigError/UsageError with one non-empty line naming the file, an override or a key."
    path = cfg_file
    path.write_bytes(content)
    other = None
    try: cfg = load_config(path, overrides)
    except UsageError as e:  # ConfigError is a UsageError
        msg = str(e)
        event(f"error: {re.sub(r'[^a-z ]', '', msg.replace(str(path), ''))[:30]}")
        one_line = bool(msg.strip()) and "\n" not in msg
        assert one_line, msg[:2000]
        useful = names_something(msg, path, overrides)
        assert useful, msg[:2000]
    except Exception as e:  # anything else is a bug
        other = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    else:
        event("a valid Config")
        assert isinstance(cfg, Config)
    # raised out here, short and without the original as context: a RecursionError's 1000 frames take pytest minutes to print
    assert other is None, f"load_config raised {other}, not a ConfigError"


@settings(max_examples=60, deadline=None, phases=NO_EXPLAIN)
@given(content=FILES)
def test_codex_validate_config_on_any_file_exits_0_or_2_with_one_line(cfg_file, content):
    "codex-validate-config FILE: 0 with the plan, or 2 with exactly one `codex-validate-config: ` line; never a traceback."
    path = cfg_file
    path.write_bytes(content)
    code, out, err = call_main(validate_config_main, [str(path)])
    clean = "Traceback" not in err and "internal error" not in err
    assert clean, err[:2000]  # (plain booleans: pytest's introspection of a 20 kB message is slow)
    assert code in (0, 2), (code, err[:2000])
    if code == 0: assert out.startswith(f"{path}: valid"), out
    else:
        one_line = out == "" and len(err.splitlines()) == 1 and err.startswith("codex-validate-config: error: ")
        assert one_line, err[:2000]
