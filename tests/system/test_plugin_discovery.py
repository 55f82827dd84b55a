"""Plugins are found through entry points, end to end: the example plugin is installed offline with pip
into a throw-away virtual environment layered on the project's venv, and codex_nb's commands there see it.
The project's own venv is never modified, so tests running beside this one are unaffected."""
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT, assert_usage_error, run


def make_venv(path: Path) -> Path:
    "A venv without pip whose site-packages also loads the project's venv (editable codex_nb, torch, pip)."
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    py = path / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_project_venv.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return py


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plugin")
    py = make_venv(tmp / "venv")
    src = shutil.copytree(ROOT / "examples" / "codex_nb_example_plugin", tmp / "src")  # keep build files out of the repo
    r = run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps", "-q", src])
    assert r.returncode == 0, r.stderr
    return py


def test_example_plugin_is_discovered_after_install(plugin_venv):
    before = run([sys.executable, "-m", "codex_nb", "registry"])
    assert before.returncode == 0 and "example-bigram" not in before.stdout
    r = run([plugin_venv, "-m", "codex_nb", "registry"])
    assert r.returncode == 0, r.stderr
    rows = {tuple(line.split(None, 2)) for line in r.stdout.splitlines()}
    assert ("models", "example-bigram", "plugin codex-nb-example-plugin") in rows
    assert ("metrics", "example-mean-line-length", "plugin codex-nb-example-plugin") in rows
    assert ("callbacks", "example-step-file", "plugin codex-nb-example-plugin") in rows


def test_plugin_objects_work_and_plugin_names_validate(plugin_venv):
    code = ("import torch; from codex_nb.registry import models, metrics; "
            "m = models['example-bigram'](11); print(tuple(m(torch.zeros(2, 3, dtype=torch.long)).shape), "
            "metrics['example-mean-line-length'](['ab\\ncdef']))")
    r = run([plugin_venv, "-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(2,", "3,", "11)", "3.0"]
    ok = run([plugin_venv, "-m", "codex_nb", "validate-config", "configs/tiny.yaml", "model.name=example-bigram"])
    assert ok.returncode == 0, ok.stderr
    bad = run([plugin_venv, "-m", "codex_nb", "validate-config", "configs/tiny.yaml", "model.name=example-bigrm"])
    assert_usage_error(bad, "codex-validate-config", "unknown model 'example-bigrm'", "did you mean 'example-bigram'",
                       "available: example-bigram")


def fake_dist(site: Path, name: str, entry_points: str):
    "A minimal installed distribution: METADATA and entry_points.txt, as pip would leave them."
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_broken_plugin_is_reported_not_skipped(tmp_path):
    fake_dist(tmp_path, "broken-plugin", "[codex_nb.models]\nbroken = no_such_module_xyz:Model\n")
    r = run([sys.executable, "-m", "codex_nb", "registry", "models"], env={"PYTHONPATH": str(tmp_path)})
    assert_usage_error(r, "codex-registry", "plugin broken-plugin failed to load model 'broken'",
                       "ModuleNotFoundError", "fix or uninstall broken-plugin")


def test_two_plugins_registering_one_name_clash(tmp_path):
    fake_dist(tmp_path, "plugin-a", "[codex_nb.metrics]\ndup = json:loads\n")
    fake_dist(tmp_path, "plugin-b", "[codex_nb.metrics]\ndup = json:dumps\n")
    r = run([sys.executable, "-m", "codex_nb", "registry", "metrics"], env={"PYTHONPATH": str(tmp_path)})
    assert_usage_error(r, "codex-registry", "metric 'dup' is already registered by plugin plugin-", "rename one of them")


def test_a_notebooks_redefinition_does_not_outlive_its_notebook():
    "nbdev-test runs notebooks one after another in one process: a model that one notebook redefined in `__main__`"
    # must not be what the next notebook builds (its class is not the library's, so export and generation refused it).
    from execnb.shell import CaptureShell
    first = CaptureShell()
    first.run_cell("from codex_nb.models import GPT\nfrom codex_nb.registry import models\n"
                   "@models.register('gpt')\ndef build_gpt(cfg): return 'the notebook version'\n"
                   "assert models['gpt'] is build_gpt")
    assert first.exc is None, first.exc
    second = CaptureShell()
    second.run_cell("import codex_nb.models\nfrom codex_nb.registry import models\nok = models['gpt'] is codex_nb.models.build_gpt")
    assert second.exc is None, second.exc
    assert second.user_ns["ok"]


def test_a_plugin_callback_switched_on_from_yaml_runs_in_codex_train_and_in_train(plugin_venv, tmp_path):
    import yaml
    recipe = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())
    recipe["training"]["callbacks"] = [{"example-step-file": {"path": str(tmp_path / "cli.txt")}}]
    (tmp_path / "cb.yaml").write_text(yaml.safe_dump(recipe))
    common = [f"run.root={tmp_path / 'runs'}", "training.max_steps=3", "training.eval_every=0", "checkpoint.every=0"]
    r = run([plugin_venv, "-m", "codex_nb", "train", tmp_path / "cb.yaml", f"run.dir={tmp_path / 'a'}", *common, "--quiet"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cli.txt").read_text() == "1\n2\n3\n"
    assert "example-step-file" in (tmp_path / "a" / "config.yaml").read_text()
    args = [str(tmp_path / "cb.yaml"), f"run.dir={tmp_path / 'b'}", *common,
            f"training.callbacks=[{{example-step-file: {{path: {tmp_path / 'api.txt'}}}}}]"]
    r = run([plugin_venv, "-c", f"from codex_nb.run import train; print(train(*{args!r}, progress=False).step)"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-1] == "3" and (tmp_path / "api.txt").read_text() == "1\n2\n3\n"
    bad = run([plugin_venv, "-m", "codex_nb", "validate-config", "configs/tiny.yaml", "training.callbacks=[example-step-fil]"])
    assert_usage_error(bad, "codex-validate-config", "unknown callback 'example-step-fil'", "did you mean 'example-step-file'")
