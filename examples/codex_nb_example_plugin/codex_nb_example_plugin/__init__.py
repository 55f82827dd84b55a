"An example codex_nb plugin: a bigram language model and a text metric, registered through entry points."
from torch import nn


class BigramLM(nn.Module):
    "Next-token logits from the current token alone: the smallest language model there is."

    def __init__(self, vocab_size: int):  # number of token ids
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx):  # (batch, time) token ids
        return self.table(idx)


def mean_line_length(texts: list[str]) -> float:  # documents
    "Mean number of characters per line over `texts`."
    lines = [line for t in texts for line in t.splitlines()]
    return sum(map(len, lines)) / len(lines) if lines else 0.0
