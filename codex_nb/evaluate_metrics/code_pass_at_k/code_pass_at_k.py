"""pass@k of candidate programs, run against each problem's tests in codex_nb's sandbox.

codex_nb's metric as an `evaluate` module (load it with `evaluate.load(str(codex_nb.evaluation.metric_path("code_pass_at_k")))`,
offline). It takes the inputs of `evaluate`'s `code_eval` but runs every program in codex_nb's sandbox (its own namespaces,
an unprivileged user, rlimits, a timeout) instead of `exec` in a forked interpreter, and scores with the unbiased estimator
that `codex-eval` uses (`codex_nb.evaluation.score_programs`).
"""
import datasets
import evaluate

from codex_nb.evaluation import score_programs
from codex_nb.execution import SandboxConfig

_DESCRIPTION = """The share of problems solved by at least one of k candidate programs, estimated without bias from n >= k
candidates per problem (Chen et al. 2021). A candidate passes when `candidate + "\\n" + test` exits 0 in the sandbox."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of str): the candidate programs of each problem (the same number for every problem is not
        required; a k above a problem's count is left out of the average).
    references (list of str): each problem's tests, e.g. HumanEval's `test` followed by `check(entry_point)`.
    k (list of int): the k of pass@k (default [1, 10]).
    timeout (float): seconds a program may run (default 10).
    memory_mb (int): address space of a program (default 1024).
    workers (int): programs run at a time (default 2).
Returns:
    pass@k (float) for each k every problem has enough candidates for; n (list of int) and passed (list of int) per problem.
Examples:
    >>> pass_at_k = evaluate.load(str(metric_path("code_pass_at_k")))
    >>> pass_at_k.compute(predictions=[["def f(): return 1", "def f(): return 2"]], references=["assert f() == 1"], k=[1])
    {'pass@1': 0.5, 'n': [2], 'passed': [1]}
"""

_CITATION = """@article{chen2021codex, title={Evaluating Large Language Models Trained on Code},
author={Chen, Mark and others}, journal={arXiv preprint arXiv:2107.03374}, year={2021}}"""


class CodePassAtK(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("string")),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, k=(1, 10), timeout=10.0, memory_mb=1024, workers=2):
        return score_programs(predictions, references, tuple(k), SandboxConfig(timeout=timeout, memory_mb=memory_mb), workers)
