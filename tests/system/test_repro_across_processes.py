"RNG state written by one process restores in another; fingerprints record git state and never leak secrets."
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import run

DRAW = "import random, numpy as np, torch; print([random.random(), random.gauss(0, 1), float(np.random.rand()), float(np.random.standard_normal()), torch.rand(3).tolist()])"


def test_rng_state_restored_in_a_new_process_gives_the_same_draws(tmp_path):
    state = tmp_path / "rng.pt"
    save = f"""
from codex_nb.repro import seed_everything, get_rng_state
import random, numpy as np, torch
seed_everything(11); random.random(); np.random.rand(); torch.rand(5); random.gauss(0, 1)
torch.save(get_rng_state(), {str(state)!r})
{DRAW}
"""
    restore = f"""
from codex_nb.repro import set_rng_state
import torch
set_rng_state(torch.load({str(state)!r}, weights_only=True))
{DRAW}
"""
    fresh = DRAW
    a, b, c = (run([sys.executable, "-c", code]) for code in (save, restore, fresh))
    assert a.returncode == b.returncode == c.returncode == 0, (a.stderr, b.stderr, c.stderr)
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout  # negative control: without the restored state the draws differ


def test_raw_numpy_state_is_refused_by_weights_only_load(tmp_path):
    "Why get_rng_state converts: the generators' own state objects do not load safely."
    torch.save({"numpy": np.random.get_state()}, tmp_path / "raw.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "raw.pt", weights_only=True)


def git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_fingerprint_records_commit_and_dirty_flag(tmp_path):
    from codex_nb.repro import env_fingerprint
    assert env_fingerprint(tmp_path)["git"] is None
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = env_fingerprint(tmp_path)["git"]
    assert clean["dirty"] is False and len(clean["commit"]) == 40
    (tmp_path / "a.py").write_text("x = 2\n")
    assert env_fingerprint(tmp_path)["git"] == {**clean, "dirty": True}


def test_saved_fingerprint_masks_secret_values(tmp_path):
    out = tmp_path / "env.json"
    r = run([sys.executable, "-c", f"from codex_nb.repro import save_fingerprint; save_fingerprint({str(out)!r})"],
            env={"MLFLOW_TRACKING_PASSWORD": "hunter2-secret", "HF_TOKEN": "hf_qwertyuiop",  # codex-safety: allow (fake)
                 "MLFLOW_TRACKING_URI": "https://ann:pa55word@mlflow.example.com"})  # codex-safety: allow (fake)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "hunter2-secret" not in text and "hf_qwertyuiop" not in text and "pa55word" not in text
    env = json.loads(text)["env"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == "***" and env["MLFLOW_TRACKING_URI"] == "https://ann:***@mlflow.example.com"
    assert env["OMP_NUM_THREADS"] == "1"
