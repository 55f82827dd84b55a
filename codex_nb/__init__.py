"""A notebook-first toolkit for training small code language models reproducibly

Modules:

- `codex_nb.checkpoint`: Checkpoints that are whole, atomic, verified on load, never unpickled, retained by policy — and a resume that continues bit for bit.
- `codex_nb.cli`: Console scripts: thin layers over the modules, with one-line errors and the exit codes of the contract.
- `codex_nb.config`: Typed configuration: a dataclass schema, YAML recipes, dotted overrides, and errors that say which key is wrong, what it held and what is allowed.
- `codex_nb.data`: Streamed corpora from files, folders, globs, JSONL / Parquet / text and the standard library; a dataset manifest; curation before the split (generated files, exact and near-duplicates, held-out files copied from training, benchmark text); deterministic splits; token shards; the preparation of a run's data, cached by content; and a sampler whose position is part of the checkpoint.
- `codex_nb.evaluate_metrics.bits_per_byte.bits_per_byte`: Bits per byte: summed negative log-likelihood in bits over the exact UTF-8 bytes of the texts it was measured on.
- `codex_nb.evaluate_metrics.code_pass_at_k.code_pass_at_k`: pass@k of candidate programs, run against each problem's tests in codex_nb's sandbox.
- `codex_nb.evaluation`: Functional correctness and held-out quality of a trained model: HumanEval and samples files scored with pass@k in the sandbox, reports with plots, perplexity of any text, and line completion and parse rate on a run's held-out files.
- `codex_nb.execution`: Run untrusted generated code: one fresh process per sample, in its own Linux namespaces, as an unprivileged user, with rlimits, a wall-clock timeout that kills everything it started, and capped output.
- `codex_nb.experiment`: Papermill experiments and sweeps: an experiment notebook run into its run folder, a grid of them compared.
- `codex_nb.generation`: Sampling with a KV cache (temperature, top-k, top-p, stop sequences, streaming, batched prompts) and loading a checkpoint for inference.
- `codex_nb.io`: Files that survive crashes: atomic writes, fsync, `SHA256SUMS` folders, and append-only NDJSON logs with rotation.
- `codex_nb.learner`: One small training loop with events, in fastai's style; everything optional — logging, evaluation, progress, clipping, the NaN guard, checkpoints — is a callback.
- `codex_nb.metrics`: A registry of metrics with honest values: token accuracy, perplexity and bits per byte accumulated over tokens; exact match, token F1, BLEU, chrF and ROUGE-L from the reference libraries; pass@k with the unbiased estimator.
- `codex_nb.models`: `gpt`, our compact decoder (GPT-2-shaped or Llama-shaped); `hf-gpt2` and `hf-llama` from `transformers` configs; a MiniLM-style `minilm` encoder; losses that count their tokens; LoRA through peft; a self-contained model folder; exact export to and import from `transformers`.
- `codex_nb.monitoring`: System metrics sampled in the background, structured logging, plots of a run, and TensorBoard — at a cost measured against the same run without them.
- `codex_nb.registry`: Models, tokenizers, datasets, metrics and callbacks registered by name, and discovered from plugin packages through Python entry points.
- `codex_nb.repro`: Seeds, deterministic mode, capture and restore of every random-number generator, and an environment fingerprint.
- `codex_nb.run`: The training pipeline as functions: config, run folder, data, learner, fit, summary; `train` does them all.
- `codex_nb.safety`: The guard for prompts and generations: the per-kind policy on secrets and personal data, dangerous generated code, and prompt injection.
- `codex_nb.secrets`: Secrets and personal data found in one pass with compiled patterns behind keyword prefilters, redacted with typed placeholders in training data, logs, configs and environment fingerprints; the data's redaction policy.
- `codex_nb.tokenization`: Six tokenizer kinds — byte-level BPE, Unigram and WordPiece trained with 🤗 tokenizers, Unigram and BPE trained with SentencePiece, and plain bytes — saved as one `tokenizer.json` that `transformers` loads; and the end-of-text token of a folder.
- `codex_nb.tracking`: MLflow tracking that never breaks training: params that never crash, metrics under the contract's names logged off the training thread, one MLflow run across resumes, FAILED on a crash, and a callback for Hugging Face Trainer users."""

__version__ = "0.1.0"

# The names a notebook needs, each imported from its chapter on first use: `import codex_nb` stays instant and loads
# no torch, so console scripts such as `codex-safety scan --help` start fast. The chapters are the documentation.
_PUBLIC = {
    "Config": "config", "load_config": "config",
    "train": "run", "RunResult": "run", "complete": "run",
    "prepare_data": "data", "train_tokenizer_from": "data",
    "load_tokenizer": "tokenization",
    "export_hf": "models", "import_hf": "models",
    "Learner": "learner", "TokenBatches": "learner",
    "load_for_inference": "generation", "generate": "generation", "stream": "generation",
    "evaluate_perplexity": "evaluation", "evaluate_humaneval": "evaluation", "evaluate_samples": "evaluation",
    "experiment": "experiment", "run_sweep": "experiment",
    "scan_text": "secrets", "redact": "secrets", "guard": "safety",
}
__all__ = ["__version__", "Config", "load_config", "train", "RunResult", "complete", "prepare_data", "train_tokenizer_from",
           "load_tokenizer", "export_hf", "import_hf", "Learner", "TokenBatches", "load_for_inference", "generate", "stream",
           "evaluate_perplexity", "evaluate_humaneval", "evaluate_samples", "experiment", "run_sweep", "scan_text", "redact", "guard"]

def __getattr__(name:str):
    "A public name, imported from its chapter on first use."
    if name not in _PUBLIC: raise AttributeError(f"module 'codex_nb' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f"codex_nb.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value

def __dir__(): return sorted({*globals(), *_PUBLIC})
