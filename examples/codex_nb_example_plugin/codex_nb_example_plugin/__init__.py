"An example codex_nb plugin: a bigram language model, a text metric and a training callback, registered through entry points."
from torch import nn

from codex_nb.learner import Callback


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


class StepFile(Callback):
    "Append the number of every optimizer step to a text file; switched on in a config: training.callbacks: [{example-step-file: {path: steps.txt}}]."

    def __init__(self, path: str = "steps.txt"):  # the file to append to
        self.path = path

    def after_step(self):
        with open(self.path, "a") as f:
            f.write(f"{self.learn.step}\n")
