"""`codex-experiment` runs the experiment notebook through papermill into its run folder (trained model, metrics,
plot, HumanEval report, samples, MLflow run, the executed notebook with its plot); an unknown or bad parameter
fails clearly, naming it, both through codex-experiment and through papermill itself."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import BIN, ROOT, TEST_ENV, assert_usage_error, run

EXP, NB, TINY = BIN / "codex-experiment", ROOT / "nbs" / "experiments" / "train.ipynb", ROOT / "configs" / "tiny.yaml"


def test_experiment_runs_end_to_end_into_its_run_folder(tmp_path):
    rd = tmp_path / "run"
    r = run([EXP, NB, "-p", "config", TINY, "-p", "max_steps", "20", "-p", "humaneval_problems", "2", "-p", "completions", "1",
             "-p", "run_dir", rd, "-p", "overrides", f"[tracking.enabled=true, run.root={tmp_path / 'runs'}]"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "training" in r.stderr and "20/20" in r.stderr  # a bar over the training steps, read from metrics.ndjson
    assert "without encryption" not in r.stderr  # ipykernel's warning about its local TCP sockets is not the user's business
    assert f"notebook {rd / 'experiment.ipynb'}" in r.stdout and "MLflow run" in r.stdout and "bits per byte" in r.stdout
    summary = json.loads((rd / "experiment.json").read_text())
    assert summary["val"]["step"] == 20 and summary["val"]["bits_per_byte"] > 0
    assert summary["humaneval"]["problems"] == 2 and (rd / "eval" / "humaneval" / "report.md").is_file()
    assert summary["mlflow"]["run_id"] and (tmp_path / "runs" / "mlflow.db").is_file()
    nb = json.loads((rd / "experiment.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the curves, inline
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert (rd / "checkpoints" / "LATEST").is_file() and (rd / "plots" / "training.png").is_file()


def test_unknown_or_bad_parameter_is_refused_before_a_kernel_starts(tmp_path):
    r = run([EXP, NB, "-p", "lrr", "0.1", "-p", "config", TINY], cwd=tmp_path)
    assert_usage_error(r, "codex-experiment", "unknown experiment parameter 'lrr'", "did you mean 'lr'")
    r = run([EXP, NB, "-p", "lr", "-1", "-p", "config", TINY], cwd=tmp_path)
    assert_usage_error(r, "codex-experiment", "parameter lr=-1", "out of range")
    assert not list(tmp_path.iterdir())


def test_papermill_itself_stops_on_an_unknown_parameter_naming_it(tmp_path):
    r = run([sys.executable, "-m", "papermill", NB, tmp_path / "out.ipynb", "-p", "lrr", "0.1", "-p", "config", str(TINY),
             "--no-progress-bar"], cwd=tmp_path)
    assert r.returncode != 0
    assert "unknown experiment parameter 'lrr'" in r.stderr + r.stdout
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_the_parameters_cell_keeps_its_tag_through_nbdev_clean():
    cells = json.loads(NB.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0]["cell_type"] == "code"  # without it papermill injects values that the defaults then overwrite
    assert '"parameters"' in run([BIN / "nbdev-clean", "--fname", NB, "--disp"], cwd=ROOT).stdout  # nbdev keeps tags (pyproject: allowed_cell_metadata_keys)


def test_sweep_runs_every_point_in_its_own_folder_and_mlflow_run_then_compares_them(tmp_path):
    sd, root = tmp_path / "sweep", tmp_path / "runs"
    r = run([EXP, NB, "-p", "config", TINY, "-p", "max_steps", "12", "-p", "humaneval_problems", "0", "-p", "completions", "0",
             "-p", "run_dir", sd, "-p", "overrides", f"[tracking.enabled=true, run.root={root}, training.eval_every=6]", "-p", "lr", "0.05",
             "--sweep", "training.lr=1e-3,1e-2", "--sweep", "data.source=stdlib:email,missing.py", "--quiet"], cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # two points cannot find their corpus: reported, and the others still ran
    assert r.stderr.count("point failed") == 2 and "missing.py" in r.stderr
    rows = json.loads((sd / "sweep.json").read_text())
    ok = [row for row in rows if "error" not in row]
    assert sorted(row["lr"] for row in ok) == ["1e-2", "1e-3"] and all(row["data.source"] == "stdlib:email" for row in ok)
    assert [row["loss"] for row in ok] == sorted(row["loss"] for row in ok) and ok[0]["loss"] != ok[1]["loss"]  # best first
    assert len(rows) == 4 and all(row["data.source"] == "missing.py" for row in rows[2:])
    assert all("UsageError: data.source 'missing.py': no such file" in row["error"] for row in rows[2:])  # the reason, not just "cell 7"
    assert len({row["mlflow_run"] for row in ok}) == 2
    caches = [json.loads((Path(row["run_dir"]) / "experiment.json").read_text())["data_cache"] for row in sorted(ok, key=lambda r: r["run"])]
    assert caches == ["built", "reused"]  # the second point trained on the first one's cached tokenizer and shards
    for row in ok:
        assert f"lr: {float(row['lr'])}" in (Path(row["run_dir"]) / "config.yaml").read_text()  # the swept value beat -p lr 0.05
        assert "=" not in row["run"]  # a folder name with '=' would read as an override on codex-train's command line
    md = (sd / "sweep.md").read_text()
    assert md.count("| 1e-") == 4 and "sweep.png" in md and (sd / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "sweep done: 2 of 4 runs" in r.stdout
    with sqlite3.connect(root / "mlflow.db") as db:
        lrs = db.execute("select value from params where key='training.lr'").fetchall()
    assert sorted(v for (v,) in lrs) == ["0.001", "0.01"]


def test_a_bad_sweep_value_is_refused_before_any_point_runs(tmp_path):
    r = run([EXP, NB, "-p", "config", TINY, "-p", "run_dir", tmp_path / "sweep", "--sweep", "training.lr=1e-3,-1"], cwd=tmp_path)
    assert_usage_error(r, "codex-experiment", "sweep point lr=-1")
    assert not (tmp_path / "sweep").exists()
    r = run([EXP, NB, "-p", "config", TINY, "--sweep", "lrr=1,2"], cwd=tmp_path)
    assert_usage_error(r, "codex-experiment", "--sweep lrr: not an experiment parameter")
    assert not list(tmp_path.iterdir())


def test_a_cell_timeout_is_one_line_and_exit_1(tmp_path):
    r = run([EXP, NB, "-p", "config", TINY, "-p", "run_dir", tmp_path / "run", "-p", "max_steps", "100000", "--cell-timeout", "2", "--quiet"],
            cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "CellTimeoutError" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_sigterm_stops_the_experiment_with_a_checkpoint_of_the_current_step(tmp_path):
    rd = tmp_path / "run"
    p = subprocess.Popen([str(a) for a in [EXP, NB, "-p", "config", TINY, "-p", "run_dir", rd, "-p", "max_steps", "100000",
                                           "-p", "overrides", "[checkpoint.every=100000, training.eval_every=0]", "--quiet"]],
                         cwd=tmp_path, env={**os.environ, **TEST_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, end = rd / "metrics.ndjson", time.time() + 120
    while time.time() < end and not (log.is_file() and log.read_text().count("\n") >= 20): time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0
    latest = (rd / "checkpoints" / "LATEST").read_text().strip()
    assert int(latest.removeprefix("step-")) >= 20, (latest, err)  # the step it was at, not the last periodic checkpoint (none)
