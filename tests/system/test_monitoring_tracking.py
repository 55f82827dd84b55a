"""Monitoring and tracking through the real command: a real `mlflow server` on 127.0.0.1 receives a run's params,
metrics and artifacts, and a resumed run appends to the same MLflow run; an unreachable server costs one warning
and no training; system metrics, rotation, TensorBoard and plots from the config; a crash ends the run FAILED."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from codex_nb.learner import read_metrics
from codex_nb.io import read_ndjson, rotated_files

from conftest import BIN, TEST_ENV, TINY, assert_usage_error, run



def train(tmp, name, *extra, expect=0):
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp / name}", f"run.root={tmp / 'runs'}", "--quiet", *extra], cwd=tmp)
    assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    "A real `mlflow server` on 127.0.0.1 with a SQLite store, stopped after the module."
    d = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    p = subprocess.Popen([str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                          "--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}", "--artifacts-destination", str(d / "artifacts")],
                         cwd=d, env={**os.environ, **TEST_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).status == 200: break
        except OSError: time.sleep(0.5)
        assert p.poll() is None, p.stderr.read().decode()[-2000:]
    else: pytest.fail("mlflow server did not answer /health within 120 s")
    yield url
    os.killpg(p.pid, signal.SIGTERM)
    try: p.wait(timeout=20)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL)


def test_a_real_server_gets_params_metrics_artifacts_and_a_resume_stays_one_run(mlflow_server, tmp_path):
    from mlflow.tracking import MlflowClient
    common = ["training.max_steps=40", "checkpoint.every=10", "monitor.plots=true", "tracking.experiment=server-test"]
    train(tmp_path, "r", *common, "--tracking-uri", mlflow_server, "training.max_steps=20")  # a first part...
    train(tmp_path, "r", *common, "--tracking-uri", mlflow_server, "--resume-from", "auto")  # ...extended: resumed
    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("server-test")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    r = runs[0]
    assert r.info.status == "FINISHED"
    assert r.data.params["training.lr"] == "0.003" and r.data.params["model.n_layer"] == "2"
    assert r.data.tags.get("codex_nb.git_commit") and r.data.tags["codex_nb.run_dir"].endswith("/r")
    steps = sorted({m.step for m in client.get_metric_history(r.info.run_id, "train/loss")})
    assert steps == list(range(1, 41))
    logged = read_metrics(tmp_path / "r" / "metrics.ndjson")
    by_step = {m.step: m.value for m in client.get_metric_history(r.info.run_id, "train/loss")}
    assert by_step[40] == pytest.approx(logged[("train", 40)]["loss"])
    assert {m.step for m in client.get_metric_history(r.info.run_id, "val/bits_per_byte")} >= {40}
    arts = {a.path for a in client.list_artifacts(r.info.run_id)} | {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert {"config.yaml", "env.json", "plots/training.png"} <= arts, arts


def test_an_unreachable_server_costs_one_warning_and_no_training(tmp_path):
    # a fresh venv compiles mlflow's modules on first import (tens of seconds on 2 busy cores): not what is timed here
    subprocess.run([sys.executable, "-c", "import mlflow, mlflow.tracking, mlflow.store.tracking.rest_store"], check=True, capture_output=True)
    t0 = time.monotonic()
    r = train(tmp_path, "down", "training.max_steps=30", "--tracking-uri", f"http://127.0.0.1:{free_port()}")
    tracked = time.monotonic() - t0
    warnings = [line for line in r.stderr.splitlines() if "WARNING" in line or "warning:" in line and "MLflow" in line]
    assert len([w for w in warnings if "MLflow" in w]) == 1, r.stderr
    assert len(read_metrics(tmp_path / "down" / "metrics.ndjson")) >= 30
    t0 = time.monotonic()
    train(tmp_path, "plain", "training.max_steps=30")
    assert tracked < (time.monotonic() - t0) + 45  # the final wait and bounded connects (about 20-40 s on 2 busy cores), not retries per step (30 x several s)


def test_system_metrics_rotation_tensorboard_and_plots_from_the_config(tmp_path):
    train(tmp_path, "m", "--system-metrics", "monitor.interval=0.1", "monitor.rotate_bytes=3000", "monitor.plots=true",
          "monitor.tensorboard=true")
    d = tmp_path / "m"
    system = read_ndjson(d / "system.ndjson")
    assert len(system) >= 3 and system[-1]["step"] == 100 and "process_rss_mb" in system[0]
    assert rotated_files(d / "metrics.ndjson"), "no rotation past 3000 bytes"
    assert sorted(s for sp, s in read_metrics(d / "metrics.ndjson") if sp == "train") == list(range(1, 101))  # across rotations
    assert sorted(p.name for p in (d / "plots").iterdir()) == ["system.png", "training.png"]
    assert list((d / "tensorboard").glob("events.out.tfevents.*"))


def test_a_non_positive_sampling_interval_exits_2(tmp_path):
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp_path / 'x'}", "monitor.interval=0"], cwd=tmp_path)
    assert_usage_error(r, "codex-train", "monitor.interval")
    assert not (tmp_path / "x").exists()


def test_an_unwritable_run_folder_is_a_clear_error_before_training(tmp_path):
    ro = tmp_path / "readonly"
    ro.mkdir()
    cmd = (f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && exec {BIN / 'codex-train'} {TINY} "
           f"run.dir={ro / 'run'} run.root={tmp_path / 'runs'} --quiet")
    r = subprocess.run(["unshare", "--mount", "--", "sh", "-c", cmd], capture_output=True, text=True, env={**os.environ, **TEST_ENV})
    assert_usage_error(r, "codex-train", "not writable")
    assert not (tmp_path / "runs").exists()  # nothing prepared: refused before any work


def test_a_crash_ends_the_mlflow_run_failed(tmp_path):
    code = f"""
import numpy as np, torch
from codex_nb.config import Config, ModelConfig, TrainingConfig
from codex_nb.learner import Callback, Learner, MetricsLogger, TokenBatches
from codex_nb.models import build_gpt
from codex_nb.tracking import MLflowTracker, default_uri
from mlflow.tracking import MlflowClient
cfg = Config(); cfg.run.root = {str(tmp_path)!r}; cfg.tracking.experiment = "crash"
class Boom(Callback):
    def after_step(self):
        if self.learn.step == 3: raise RuntimeError("boom")
l = Learner(build_gpt(ModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=32)),
            TokenBatches(np.arange(5000, dtype=np.uint16) % 32, 16, 4), TrainingConfig(max_steps=10, batch_size=4, device="cpu"), device="cpu")
tracker = MLflowTracker(cfg, {str(tmp_path / 'run')!r})
l.add_cbs([MetricsLogger({str(tmp_path / 'run' / 'metrics.ndjson')!r}, every=1), tracker, Boom()])
try: l.fit()
except RuntimeError: pass
print(MlflowClient(tracking_uri=default_uri(cfg)).get_run(tracker.run.run_id).info.status)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **TEST_ENV}, timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "FAILED", r.stdout + r.stderr


def test_a_torn_line_does_not_swallow_the_next_record(tmp_path):
    from codex_nb.io import NDJSONLog
    f = tmp_path / "m.ndjson"
    f.write_text('{"step": 1, "split": "train", "loss": 1}\n{"step": 2, "split": "tr')  # killed mid-line
    log = NDJSONLog(f); log.write({"step": 2, "split": "train", "loss": 2}); log.close()
    assert sorted(s for _, s in read_metrics(f)) == [1, 2]


def test_a_kill_mid_rotation_hides_no_history(tmp_path):
    f = tmp_path / "m.ndjson"
    Path = type(tmp_path)
    Path(f"{f}.2").write_text('{"step": 1, "split": "train", "loss": 1}\n')  # .1 was renamed to .2, then the kill came
    f.write_text('{"step": 2, "split": "train", "loss": 2}\n')
    assert [r["step"] for r in read_ndjson(f)] == [1, 2]


def test_a_sampler_can_be_started_again(tmp_path):
    from codex_nb.monitoring import SystemSampler
    s = SystemSampler(tmp_path / "s.ndjson", interval=0.05)
    for _ in range(2):
        s.start(); time.sleep(0.4); s.stop()
    assert len(read_ndjson(tmp_path / "s.ndjson")) >= 8


def test_names_mlflow_rejects_are_cleaned_and_an_unknown_run_becomes_a_new_run(tmp_path):
    from mlflow.tracking import MlflowClient
    from codex_nb.tracking import MLflowRun
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = MLflowRun(uri, "names", run_id="0123456789abcdef0123456789abcdef", params={"f1(macro)": 1}, artifact_root=str(tmp_path / "a"))
    r.log_metrics([("val/pass@1", 0.5, 1), ("train/loss", 2.0, 1)])
    r.end()
    assert r.wait(60), "the queue did not drain"
    c = MlflowClient(tracking_uri=uri)
    run = c.get_run(r.run_id)
    assert run.info.status == "FINISHED" and r.run_id != "0123456789abcdef0123456789abcdef"
    assert run.data.metrics == {"val/pass_1": 0.5, "train/loss": 2.0} and run.data.params == {"f1_macro_": "1"}


def test_a_missing_tensorboard_is_refused_before_any_work(tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    (block / "tensorboard").mkdir()
    (block / "tensorboard" / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp_path / 'r'}", f"run.root={tmp_path / 'runs'}", "monitor.tensorboard=true"],
            cwd=tmp_path, env={"PYTHONPATH": str(block)})
    assert_usage_error(r, "codex-train", "pip install tensorboard")
    assert not (tmp_path / "runs").exists()
