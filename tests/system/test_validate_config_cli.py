"`codex-validate-config` and `python -m codex_nb`: exit codes and one-line errors, through the real commands."
import sys

import pytest
import yaml

from conftest import BIN, ROOT, assert_usage_error, run

VALIDATE = BIN / "codex-validate-config"


def validate(*args):
    return run([VALIDATE, *args])


@pytest.mark.parametrize("config", ["configs/default.yaml", "configs/tiny.yaml"])
def test_shipped_configs_are_valid(config):
    r = validate(config)
    assert r.returncode == 0, r.stderr
    assert f"{config}: valid" in r.stdout
    assert "training" in r.stdout and "checkpoints" in r.stdout


@pytest.mark.parametrize("override,needles", [
    ("training.max_steps=abc", ["training.max_steps", "'abc'", "Integer"]),
    ("training.lr=-1", ["training.lr=-1.0 is out of range: must be > 0"]),
    ("training.lrr=3e-4", ["unknown key 'training.lrr'", "did you mean 'training.lr'"]),
    ("trainig.lr=3e-4", ["unknown key 'trainig'", "did you mean 'training'"]),
    ("training.lr=", ["override 'training.lr=' has no value"]),
    ("training.lr", ["has no '='"]),
    ("training.precision=fp64", ["choose one of auto, fp32, bf16, fp16"]),
    ("model.n_head=3", ["model.n_embd=64 must be divisible by model.n_head=3"]),
    ("training=5", ["'training' is a section"]),
    ("training.device=gpu", ["training.device='gpu' does not match"]),
    ("data.source=[]", ["data.source is empty"]),
])
def test_bad_override_exits_2_with_one_line(override, needles):
    assert_usage_error(validate("configs/tiny.yaml", override), "codex-validate-config", *needles)


def test_bad_files_exit_2_with_one_line(tmp_path):
    cases = {
        "malformed.yaml": ("training:\n  lr: [1, 2\n", ["malformed YAML at line"]),
        "unknown.yaml": ("training:\n  max_stepz: 3\n", ["unknown key 'training.max_stepz'", "did you mean 'training.max_steps'"]),
        "wrongtype.yaml": ("training:\n  max_steps: many\n", ["training.max_steps", "'many'"]),
        "list.yaml": ("- training\n", ["expected a mapping"]),
    }
    for name, (text, needles) in cases.items():
        (tmp_path / name).write_text(text)
        assert_usage_error(validate(tmp_path / name), "codex-validate-config", str(tmp_path / name), *needles)
    (tmp_path / "range.yaml").write_text("checkpoint:\n  keep_last: 0\n")
    assert_usage_error(validate(tmp_path / "range.yaml"), "codex-validate-config", "checkpoint.keep_last=0 is out of range: must be >= 1")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    assert_usage_error(validate(tmp_path / "binary.yaml"), "codex-validate-config", "not a UTF-8 text file")
    assert_usage_error(validate(tmp_path), "codex-validate-config", "is a folder")
    assert_usage_error(validate(tmp_path / "missing.yaml"), "codex-validate-config", "config file not found")


def test_bad_usage_exits_2_with_one_line():
    assert_usage_error(validate(), "codex-validate-config", "required: FILE")
    assert_usage_error(validate("configs/tiny.yaml", "--bogus"), "codex-validate-config", "unrecognized arguments: --bogus")


def test_all_problems_reported_at_once():
    r = validate("configs/tiny.yaml", "training.lr=-1", "checkpoint.keep_last=0")
    assert_usage_error(r, "codex-validate-config", "training.lr=-1.0", "checkpoint.keep_last=0")


def test_debug_shows_the_traceback():
    r = validate("configs/tiny.yaml", "training.lr=-1", "--debug")
    assert r.returncode == 2
    assert "Traceback" in r.stderr and r.stderr.rstrip().splitlines()[-1].startswith("codex-validate-config: error:")


def test_later_override_wins_and_print_round_trips(tmp_path):
    r = validate("configs/tiny.yaml", "training.max_steps=7", "training.max_steps=9", "--print")
    assert r.returncode == 0, r.stderr
    resolved = yaml.safe_load(r.stdout)
    assert resolved["training"]["max_steps"] == 9
    (tmp_path / "resolved.yaml").write_text(r.stdout)
    again = validate(tmp_path / "resolved.yaml", "--print")
    assert again.returncode == 0 and again.stdout == r.stdout


def test_tracking_uri_turns_tracking_on():
    r = validate("configs/tiny.yaml", "tracking.uri=http://127.0.0.1:5999", "--print")
    assert yaml.safe_load(r.stdout)["tracking"] == {"enabled": True, "uri": "http://127.0.0.1:5999",
                                                    "experiment": "codex_nb", "log_model": False}


def test_python_m_lists_and_runs_commands():
    r = run([sys.executable, "-m", "codex_nb"])
    assert r.returncode == 0
    assert "validate-config" in r.stdout and "registry" in r.stdout
    r = run([sys.executable, "-m", "codex_nb", "validate-config", "configs/tiny.yaml"])
    assert r.returncode == 0 and "valid" in r.stdout
    r = run([sys.executable, "-m", "codex_nb", "codex-validate-config", "configs/tiny.yaml"])
    assert r.returncode == 0
    r = run([sys.executable, "-m", "codex_nb", "trian"])
    assert_usage_error(r, "codex_nb", "unknown command 'trian'", "validate-config")


def test_validation_writes_nothing(tmp_path):
    r = run([VALIDATE, ROOT / "configs/tiny.yaml", f"run.dir={tmp_path / 'run'}", f"run.root={tmp_path / 'runs'}"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.iterdir()) == []
