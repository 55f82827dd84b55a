"""Bits per byte: summed negative log-likelihood in bits over the exact UTF-8 bytes of the texts it was measured on.

codex_nb's metric as an `evaluate` module (load it with `evaluate.load(str(codex_nb.evaluation.metric_path("bits_per_byte")))`,
offline). The arithmetic is `codex_nb.metrics.nats_to_bits_per_byte`, the one the learner's evaluation uses.
"""
import datasets
import evaluate

from codex_nb.metrics import nats_to_bits_per_byte

_DESCRIPTION = """Bits per byte (BPB): the summed negative log-likelihood of some texts, in bits, divided by the number of UTF-8
bytes of those texts. Unlike perplexity per token it does not depend on the tokenizer, so models with different vocabularies
compare on it."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of float): the summed negative log-likelihood, in nats, of each text: the sum over its tokens of
        -log p(token | the tokens before it), e.g. a codex_nb model's `loss_sum` on the text's token ids.
    references (list of str): the texts themselves; their UTF-8 bytes are counted exactly.
Returns:
    bits_per_byte (float): sum(predictions) / ln 2 / (UTF-8 bytes of all references).
Examples:
    >>> bpb = evaluate.load(str(metric_path("bits_per_byte")))
    >>> bpb.compute(predictions=[3 * math.log(4)], references=["ab\\n"])  # three tokens, each at probability 1/4
    {'bits_per_byte': 2.0}
"""

_CITATION = """@article{gao2020pile, title={The Pile: An 800GB Dataset of Diverse Text for Language Modeling},
author={Gao, Leo and others}, journal={arXiv preprint arXiv:2101.00027}, year={2020}}"""


class BitsPerByte(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        n_bytes = sum(len(t.encode("utf-8")) for t in references)
        if not n_bytes: raise ValueError("bits_per_byte needs texts with at least one byte")
        return {"bits_per_byte": nats_to_bits_per_byte(float(sum(predictions)), n_bytes)}
