"""The release: a wheel and an sdist built offline, the wheel installed the way the Dockerfiles install it
(docker/install.sh) into a clean venv without an index, and the installed package doing the work of the repository."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import codex_nb

from conftest import ROOT, TEST_ENV, assert_usage_error

SKIP = shutil.ignore_patterns(".git", ".venv", "runs", "_docs", "_proc", "build", "dist", "*.egg-info", "__pycache__",
                              ".hypothesis", ".ruff_cache", ".pytest_cache", ".ipynb_checkpoints", "mlruns")


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    "A wheel and an sdist of the working tree, built offline (`python -m build --no-isolation`: sdist, then the wheel from it)."
    tmp = tmp_path_factory.mktemp("release")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP, symlinks=True)  # the tree, not the repository's build leftovers
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", src], capture_output=True,
                       text=True, env={**os.environ, **TEST_ENV}, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp / "dist"


def test_one_version_everywhere_and_clean_metadata(dist):
    wheel, = dist.glob("codex_nb-*.whl")
    sdist, = dist.glob("codex_nb-*.tar.gz")
    v = codex_nb.__version__
    assert wheel.name == f"codex_nb-{v}-py3-none-any.whl" and sdist.name == f"codex_nb-{v}.tar.gz"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]  # one source: __init__.py
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "codex_nb.__version__"}
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"codex_nb-{v}.dist-info/METADATA").decode()
        assert z.read(f"codex_nb-{v}.dist-info/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert z.read("codex_nb/experiments/train.ipynb") == (ROOT / "nbs/experiments/train.ipynb").read_bytes()
        for recipe in ("default.yaml", "tiny.yaml"): assert z.read(f"codex_nb/configs/{recipe}") == (ROOT / "configs" / recipe).read_bytes()
        for m in ("bits_per_byte", "code_pass_at_k"): assert f"codex_nb/evaluate_metrics/{m}/{m}.py" in names
    assert f"Version: {v}\n" in meta and "License-Expression: Apache-2.0\n" in meta and "License-File: LICENSE\n" in meta
    assert "Classifier: License" not in meta  # an SPDX expression, not the deprecated license classifiers
    assert {n.split("/")[0] for n in names} == {"codex_nb", f"codex_nb-{v}.dist-info"}  # nothing else lands in site-packages
    assert not [n for n in names if n.endswith((".pyc", ".ipynb_checkpoints")) or "__pycache__" in n]
    modules = {f"codex_nb/{p.name}" for p in (ROOT / "codex_nb").glob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", "configs/default.yaml", "configs/tiny.yaml", "nbs/experiments/train.ipynb"} <= members
    assert not [m for m in members if m.startswith(("tests/", ".venv", "runs/", ".git/"))]


def deps_view(tmp) -> Path:
    "The project venv's installed distributions, minus codex_nb itself: what a machine with the dependencies installed has."
    site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir() and str(Path(sys.prefix)) in p))
    view = tmp / "deps"
    view.mkdir()
    for p in site.iterdir():
        n = p.name.lower()
        if n.startswith(("codex_nb", "__editable__", "_codex_nb", "codex_nb_example_plugin")) or n.endswith(".pth"): continue
        (view / p.name).symlink_to(p)
    return view


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    "A clean venv (`--system-site-packages`; pip and the dependencies visible, codex_nb not) with the wheel installed by docker/install.sh with the lock, offline."
    tmp = tmp_path_factory.mktemp("venv")
    base = Path(sys.base_prefix) / "bin" / "python3"
    venv = tmp / "venv"
    subprocess.run([base, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True, capture_output=True, timeout=300)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "_codex_deps.pth").write_text(f"{deps_view(tmp)}\n")
    env = {**os.environ, **TEST_ENV, "PYTHON": str(venv / "bin" / "python"), "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None); env.pop("PYTHONPATH", None)
    r = subprocess.run(["sh", ROOT / "docker/install.sh", dist, ROOT / "constraints.txt"], capture_output=True, text=True, env=env,
                       cwd=tmp, timeout=600)  # with the lock's constraints: the tested versions, or pip refuses
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv, env, r


def test_install_script_installs_the_wheel_offline_and_its_commands_start(installed):
    venv, env, r = installed
    v = codex_nb.__version__
    assert f"codex-train (codex_nb) {v}" in r.stdout and f"codex_nb {v}" in r.stdout
    assert "Successfully installed codex-nb" in r.stdout  # pip resolved every dependency from what is installed: no index
    out = subprocess.run([venv / "bin/python", "-c", "import codex_nb, importlib.metadata as m; print(codex_nb.__file__, m.version('codex-nb'))"],
                         capture_output=True, text=True, env=env, cwd=venv.parent, timeout=120)
    path, version = out.stdout.split()
    assert Path(path).is_relative_to(venv) and version == v  # the wheel's copy, not the working tree's
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in scripts: assert (venv / "bin" / name).is_file(), name
    check = subprocess.run([venv / "bin/python", "-m", "pip", "check"], capture_output=True, text=True, env=env, timeout=120)
    assert check.stderr == "" and (check.returncode == 0 or check.stdout.strip()), (check.returncode, check.stderr)  # pip check ran
    assert "codex-nb" not in check.stdout, check.stdout  # codex-nb's own requirements are all met (others' are not ours)


def test_the_installed_package_trains_generates_and_finds_its_experiment_notebook(installed, tmp_path):
    venv, env, _ = installed
    shutil.copy(ROOT / "configs/tiny.yaml", tmp_path / "tiny.yaml")  # a user's recipe; no repository around
    run = lambda *a, **kw: subprocess.run([str(x) for x in a], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, **kw)
    r = run(venv / "bin/codex-validate-config", "tiny.yaml")
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr
    r = run(venv / "bin/python", "-m", "codex_nb", "train", "tiny", "run.dir=runs/tiny", "training.max_steps=12",
            "checkpoint.every=0", "--quiet")  # the recipe by name: no configs/ here, so the one installed with the wheel
    assert r.returncode == 0, r.stderr
    assert f"config tiny: the recipe {venv}" in r.stderr and "/configs/tiny.yaml" in r.stderr, r.stderr
    (tmp_path / "tiny").write_text("training: {max_steps: 3}\n")  # a file of that name wins, and the line says so
    r = run(venv / "bin/codex-validate-config", "tiny")
    assert r.returncode == 0 and "config tiny: the file tiny (a path wins over the recipe" in r.stderr, r.stderr
    assert (tmp_path / "runs/tiny/checkpoints/LATEST").read_text() == "step-00000012\n"
    umask = os.umask(0); os.umask(umask)
    mode = (tmp_path / "runs/tiny/checkpoints/step-00000012/model.safetensors").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask, oct(mode)  # as open() makes files: other users may read a model (safetensors alone gives 0600)
    lines = [json.loads(x) for x in (tmp_path / "runs/tiny/metrics.ndjson").read_text().splitlines()]
    assert [x["step"] for x in lines if x["split"] == "train"] == list(range(1, 13))
    r = run(venv / "bin/codex-generate", "--checkpoint", "runs/tiny", "--prompt", "def ", "--max-new-tokens", "8", "--temperature", "0")
    assert r.returncode == 0 and r.stdout.startswith("def "), r.stderr
    r = run(venv / "bin/codex-experiment", "-p", "lrr", "0.1")  # the shipped notebook is found; the typo is refused before a kernel
    assert_usage_error(r, "codex-experiment", "unknown experiment parameter 'lrr'")
    r = run(venv / "bin/codex-validate-config", "tiny.yaml", "training.lrr=1")
    assert_usage_error(r, "codex-validate-config", "unknown key 'training.lrr'")


def test_evaluate_loads_codex_nb_metrics_from_the_installed_wheel_offline(installed, tmp_path):
    venv, env, _ = installed
    code = ("import evaluate, math; from codex_nb.evaluation import metric_path; p = metric_path('bits_per_byte'); "
            "print(p); print(evaluate.load(str(p)).compute(predictions=[3 * math.log(4)], references=['ab\\n'])['bits_per_byte'])")
    r = subprocess.run([venv / "bin/python", "-c", code], capture_output=True, text=True, env={**env, "HF_HOME": str(tmp_path / "hf")},
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    path, value = r.stdout.split()
    assert Path(path).is_relative_to(venv) and float(value) == 2.0  # three tokens at probability 1/4 over three bytes: 2 bits each


def test_dockerfiles_install_with_the_tested_script_and_run_a_console_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*"):] == ["*", "!dist/codex_nb-*.whl", "!docker/install.sh", "!constraints.txt"]  # the wheel, the script, the lock
    for name in ("Dockerfile", "Dockerfile.cuda"):
        text = (ROOT / "docker" / name).read_text()
        base = re.search(r"^FROM (\S+)", text, re.M).group(1)
        assert ":" in base and not base.endswith(":latest"), base  # a pinned base image
        assert "COPY docker/install.sh /tmp/install.sh" in text and "sh /tmp/install.sh /tmp/wheels" in text
        assert "COPY dist/codex_nb-*.whl /tmp/wheels/" in text and "COPY constraints.txt /tmp/constraints.txt" in text
        lock = "/tmp/constraints-cuda.txt" if name.endswith("cuda") else "/tmp/constraints.txt"  # CUDA: the lock less its CPU torch
        assert f"sh /tmp/install.sh /tmp/wheels {lock}" in text, name
        if name.endswith("cuda"): assert "grep -v '^torch==' /tmp/constraints.txt > /tmp/constraints-cuda.txt" in text
        entry = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))
        assert entry[0] in scripts, entry
        assert re.search(r"^USER (?!root)\w+", text, re.M), name  # training needs no root
        for line in text.splitlines():
            if line.startswith("COPY "):
                src = line.split()[1]
                assert any(Path(src).match(p.lstrip("!")) or src == p.lstrip("!") for p in ignore if p.startswith("!")), src
    assert "download.pytorch.org/whl/cpu" in (ROOT / "docker/Dockerfile").read_text()
    assert "TORCH_INDEX" not in (ROOT / "docker/Dockerfile.cuda").read_text()  # PyPI's Linux torch is the CUDA build


def test_install_script_refuses_a_folder_without_a_wheel(tmp_path):
    r = subprocess.run(["sh", ROOT / "docker/install.sh", tmp_path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == f"install.sh: no codex_nb-*.whl in {tmp_path}: run make dist first"
