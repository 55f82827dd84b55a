"""Metrics: pass@k equals the closed form on random (n, c, k); text metrics equal their reference libraries
on fixed inputs; a missing library raises with the install command; token metrics sum before dividing."""
import math
import sys
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings, strategies as st

from codex_nb import metrics as M
from codex_nb.models import LMOutput
from codex_nb.registry import metrics as registry


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_the_closed_form(nck):
    n, c, k = nck
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))  # comb(n - c, k) is 0 when n - c < k
    assert M.pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-9)


def test_pass_at_k_is_one_when_fewer_than_k_samples_fail():
    assert M.pass_at_k(10, 8, 3) == 1.0 and M.pass_at_k(10, 7, 3) < 1.0


def test_pass_at_k_stays_finite_where_the_binomials_overflow_floats():
    v = M.pass_at_k(5000, 3, 1000)
    assert 0 < v < 1 and math.isfinite(v)
    assert v == pytest.approx(float(1 - Fraction(math.comb(4997, 1000), math.comb(5000, 1000))), abs=1e-12)
    with pytest.raises(OverflowError): float(math.comb(5000, 1000))  # the naive form cannot even be evaluated in floats


PREDS = ["def add(a, b): return a + b", "The quick brown fox", "x = 1", "print('hi')"]
REFS = ["def add(x, y): return x + y", "the quick brown fox jumps", "x = 2", "print('hello')"]


def test_bleu_and_chrf_equal_sacrebleu():
    import sacrebleu
    assert M.bleu(PREDS, REFS) == sacrebleu.corpus_bleu(PREDS, [REFS]).score
    assert M.chrf(PREDS, REFS) == sacrebleu.corpus_chrf(PREDS, [REFS]).score
    two = [[r, r.upper()] for r in REFS]
    assert M.bleu(PREDS, two) == sacrebleu.corpus_bleu(PREDS, [[r[0] for r in two], [r[1] for r in two]]).score


def test_rouge_l_equals_rouge_score():
    from rouge_score import rouge_scorer
    sc = rouge_scorer.RougeScorer(["rougeL"])
    assert M.rouge_l(PREDS, REFS) == pytest.approx(sum(sc.score(r, p)["rougeL"].fmeasure for p, r in zip(PREDS, REFS)) / 4)


def test_exact_match_and_f1_follow_squad_v1_1():
    # values worked out by hand from the SQuAD v1.1 evaluation script's definitions
    assert M.exact_match(["The Eiffel Tower!", "Paris"], ["eiffel tower", "paris, france"]) == 0.5
    assert M.token_f1(["the big red dog"], ["a red dog barked"]) == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert M.token_f1(["nothing"], ["else"]) == 0.0


@pytest.mark.parametrize("name,module", [("bleu", "sacrebleu"), ("chrf", "sacrebleu"), ("rouge_l", "rouge_score.rouge_scorer")])
def test_a_missing_library_raises_with_the_install_command(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(M.MissingDependency, match="pip install"):
        registry[name](PREDS, REFS)


def test_token_metrics_weight_tokens_not_batches():
    def out(loss, n): return LMOutput(torch.zeros(1, n, 3), None, torch.tensor(loss * n), torch.tensor(n))
    ppl, loss = M.Perplexity(), M.Loss()
    for l, n in [(5.0, 1), (1.0, 999)]:
        for m in (ppl, loss): m.update(out(l, n), torch.zeros(1, n, dtype=torch.long))
    assert loss.value() == pytest.approx((5 + 999) / 1000)
    assert ppl.value() == pytest.approx(math.exp((5 + 999) / 1000))


def test_every_builtin_metric_is_registered():
    assert {"loss", "perplexity", "bits_per_byte", "token_accuracy", "exact_match", "token_f1", "bleu", "chrf", "rouge_l"} <= set(registry.names())
