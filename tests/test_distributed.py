"""Data-parallel training under torchrun (gloo on CPU): N processes see exactly the global batches one process
would, and their gradient and logged loss are the global batch's, weighted by tokens."""
import json
import sys

from conftest import BIN, ROOT, run

SCRIPT = ROOT / "tests" / "ddp_learner.py"


def train(tmp_path, name, *args, nproc=1):
    out = tmp_path / f"{name}.json"
    cmd = [BIN / "torchrun", "--standalone", f"--nproc_per_node={nproc}", SCRIPT] if nproc > 1 else [sys.executable, SCRIPT]
    r = run([*cmd, out, *args], cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(out.read_text())


def test_two_processes_of_batch_4_train_bit_for_bit_like_one_of_batch_4_with_grad_accum_2(tmp_path):
    ddp = train(tmp_path, "ddp", "--batch", "4", nproc=2)
    accum = train(tmp_path, "accum", "--batch", "4", "--accum", "2")
    assert ddp["world_size"] == 2 and ddp["tokens"] == accum["tokens"] == 8 * 32  # the global batch's tokens
    assert ddp["losses"] == accum["losses"] and ddp["weights"] == accum["weights"]
    single4 = train(tmp_path, "single4", "--batch", "4")  # negative control: half the batch is another run
    assert single4["losses"] != ddp["losses"]


def test_two_processes_of_batch_4_match_one_process_of_batch_8_within_1e_4(tmp_path):
    ddp = train(tmp_path, "ddp", "--batch", "4", nproc=2)
    one = train(tmp_path, "one", "--batch", "8")
    assert ddp["losses"].keys() == one["losses"].keys()
    diff = max(abs(ddp["losses"][s] - one["losses"][s]) for s in one["losses"])
    assert diff < 1e-4, diff  # the same windows; fp32 sums 8 rows in another order than 4 + 4
    assert one["losses"]["60"] < one["losses"]["1"] - 0.5  # and it trained
