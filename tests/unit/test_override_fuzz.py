"Any override text either resolves to a valid config or raises ConfigError: never another exception."
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_nb.config import ConfigError, Config, load_config, schema_keys

from conftest import TINY

keys = st.sampled_from(schema_keys() + ["training", "model", "nope", "training.nope", "a.b.c"])
values = st.one_of(st.text(max_size=12), st.integers().map(str), st.floats(allow_nan=True).map(str),
                   st.sampled_from(["null", "[]", "{}", "[1, 2]", "{a: 1}", "true", "-1", "1e400", "'", "[", "${x}"]))


def resolves_or_config_error(overrides):
    try: return isinstance(load_config(TINY, overrides), Config)
    except ConfigError as e:
        assert "\n" not in str(e), str(e)
        return False


@settings(max_examples=300, deadline=None)
@given(key=keys, value=values)
def test_key_value_overrides(key, value):
    resolves_or_config_error([f"{key}={value}"])


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30))
def test_arbitrary_override_text(text):
    resolves_or_config_error([text])
