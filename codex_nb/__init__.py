"""A notebook-first toolkit for training small code language models reproducibly

Modules:

- `codex_nb.execution`: Run untrusted generated code: one fresh process per sample, in its own Linux namespaces, as an unprivileged user, with rlimits, a wall-clock timeout that kills everything it started, and capped output."""

__version__ = "0.1.0"
