"""`codex-experiment` runs the experiment notebook through papermill into its run folder (trained model, metrics,
plot, HumanEval report, samples, MLflow run, the executed notebook with its plot); an unknown or bad parameter
fails clearly, naming it, both through codex-experiment and through papermill itself."""
import json
import sys

from conftest import BIN, ROOT, assert_usage_error, run

EXP, NB, TINY = BIN / "codex-experiment", ROOT / "nbs" / "experiments" / "train.ipynb", ROOT / "configs" / "tiny.yaml"


def test_experiment_runs_end_to_end_into_its_run_folder(tmp_path):
    rd = tmp_path / "run"
    r = run([EXP, NB, "-p", "config", TINY, "-p", "max_steps", "20", "-p", "humaneval_problems", "2", "-p", "completions", "1",
             "-p", "run_dir", rd, "-p", "overrides", f"[tracking.enabled=true, run.root={tmp_path / 'runs'}]", "--quiet"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
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
