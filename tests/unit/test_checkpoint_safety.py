"Checkpoint safety: a run with every checkpoint corrupt stops naming them, crafted pickles never run, newer formats are refused, retention keeps its promises. (A flipped byte skipped by name is the lesson of nbs/10_checkpoint; codex-train resuming past one is in system/test_codex_train.py.)"
import json
import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_nb.checkpoint import FORMAT_VERSION, CheckpointManager, Checkpointer, CorruptCheckpoint, load_checkpoint, to_keep, verify_checkpoint
from codex_nb.io import write_sums
from codex_nb.config import CodexError, TrainingConfig
from codex_nb.learner import Learner, TokenBatches
from codex_nb.models import build_gpt, load_model_folder, read_model_config
from conftest import tiny_model

torch.set_num_threads(1)
STREAM = np.tile(np.arange(40, dtype=np.uint16), 100)


def learner(root, steps=6, every=2, keep_last=5):
    torch.manual_seed(0)
    l = Learner(build_gpt(tiny_model()),
                TokenBatches(STREAM, 16, 2), TrainingConfig(max_steps=steps, batch_size=2, warmup_steps=0))
    mgr = CheckpointManager(root, keep_last=keep_last)
    l.add_cbs([Checkpointer(mgr, every=every)])
    return l, mgr


def test_checkpoint_folder_layout_and_sums(tmp_path):
    l, mgr = learner(tmp_path)
    l.fit()
    assert [p.name for p in mgr.steps()] == ["step-00000002", "step-00000004", "step-00000006"]
    assert (tmp_path / "LATEST").read_text() == "step-00000006\n"
    folder = mgr.steps()[-1]
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "meta.json", "model.safetensors", "model_config.json",
                                                       "trainer_state.pt"]
    names = [line.split("  ")[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    assert sorted(names) == ["meta.json", "model.safetensors", "model_config.json", "trainer_state.pt"]
    meta = verify_checkpoint(folder)
    assert meta["format_version"] == FORMAT_VERSION and meta["step"] == 6 and "train/loss" in meta["metrics"]


def test_all_corrupt_is_an_error_naming_them(tmp_path):
    l, mgr = learner(tmp_path, steps=4)
    l.fit()
    for p in mgr.steps(): (p / "SHA256SUMS").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CorruptCheckpoint, match="every checkpoint is corrupt or incomplete: step-00000004, step-00000002"):
            mgr.load_latest()


class Evil:
    def __reduce__(self): return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


def test_crafted_pickle_with_matching_checksum_runs_no_code(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    l, mgr = learner(tmp_path / "ck")
    l.fit()
    folder = mgr.steps()[-1]
    torch.save({"step": 6, "payload": Evil()}, folder / "trainer_state.pt")
    write_sums(folder)  # the attacker also fixes the checksums
    verify_checkpoint(folder)  # checksums alone cannot tell
    fresh, _ = learner(tmp_path / "other")
    with pytest.raises(CorruptCheckpoint, match="refused to load it"):
        load_checkpoint(fresh, folder)
    assert not marker.exists()


def test_newer_format_version_is_refused(tmp_path):
    l, mgr = learner(tmp_path, steps=2)
    l.fit()
    folder = mgr.steps()[-1]
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    write_sums(folder)
    with pytest.raises(CodexError, match="newer than this codex_nb reads"):
        verify_checkpoint(folder)
    before = sorted(p.name for p in mgr.root.iterdir())
    with pytest.raises(CodexError, match="upgrade codex_nb"):  # what --resume-from auto meets: refused, never renamed aside as corrupt
        mgr.load_latest(quarantine=True)
    assert sorted(p.name for p in mgr.root.iterdir()) == before


def test_a_format_1_checkpoint_still_loads_and_resumes_like_the_run_that_wrote_it(tmp_path):
    "Format 1 (before Muon and the modern model options): an AdamW state and a model_config.json without the new keys."
    ref, mgr = learner(tmp_path / "ref", steps=6)
    ref.fit()
    folder = mgr.steps()[-2]  # step 4 of the 6
    meta, mc = (json.loads((folder / f).read_text()) for f in ("meta.json", "model_config.json"))
    new_keys = {"qk_norm", "tie_embeddings", "zero_init", "logit_softcap"}
    assert FORMAT_VERSION == 2 and new_keys <= set(mc)
    (folder / "meta.json").write_text(json.dumps({**meta, "format_version": 1}))
    (folder / "model_config.json").write_text(json.dumps({**{k: v for k, v in mc.items() if k not in new_keys}, "format_version": 1}))
    state = torch.load(folder / "trainer_state.pt", weights_only=False)
    for g in state["optimizer"]["param_groups"]: del g["lr_scale"]  # format 1's AdamW groups had none
    torch.save(state, folder / "trainer_state.pt")
    write_sums(folder)
    old = read_model_config(folder)
    assert (old.qk_norm, old.tie_embeddings, old.zero_init, old.logit_softcap) == (False, True, False, 0.0)  # GPT-2's values
    model = load_model_folder(folder)
    assert model.lm_head.weight is model.transformer.wte.weight
    resumed, _ = learner(tmp_path / "resumed", steps=6)
    load_checkpoint(resumed, folder)
    resumed.fit()
    assert all(torch.equal(a, b) for a, b in zip(ref.model.state_dict().values(), resumed.model.state_dict().values()))


def test_stale_temporary_folders_are_cleaned_at_start(tmp_path):
    (tmp_path / ".tmp-step-00000004-123").mkdir(parents=True)
    (tmp_path / ".tmp-step-00000004-123" / "model.safetensors").write_bytes(b"partial")
    CheckpointManager(tmp_path)
    assert not list(tmp_path.glob(".tmp-*"))


ckpts = st.lists(st.tuples(st.integers(1, 10_000), st.one_of(st.none(), st.floats(0, 10, allow_nan=False))),
                 unique_by=lambda t: t[0], max_size=30)


@settings(max_examples=300, deadline=None)
@given(ckpts=ckpts, keep_last=st.integers(0, 5), keep_best=st.integers(0, 5), mode=st.sampled_from(["min", "max"]))
def test_retention_never_deletes_the_newest_or_the_best(ckpts, keep_last, keep_best, mode):
    keep = to_keep(ckpts, keep_last, keep_best, mode)
    if not ckpts:
        assert keep == set()
        return
    steps = sorted(s for s, _ in ckpts)
    assert steps[-1] in keep
    assert set(steps[-max(keep_last, 1):]) <= keep
    scored = [(m, s) for s, m in ckpts if m is not None]
    if scored:
        best = min(m for m, _ in scored) if mode == "min" else max(m for m, _ in scored)
        assert any(m == best for s, m in ckpts if s in keep)
        good = sorted((m if mode == "min" else -m) for m, _ in scored)[:max(keep_best, 1)]
        kept_scores = sorted((m if mode == "min" else -m) for s, m in ckpts if s in keep and m is not None)
        assert kept_scores[:len(good)] == good
    assert len(keep) <= max(keep_last, 1) + max(keep_best, 1)
    assert keep <= set(steps)


def test_retention_on_disk_keeps_best_by_metric(tmp_path):
    l, mgr = learner(tmp_path, steps=10, every=1, keep_last=2)
    mgr.keep_best, mgr.metric = 1, "train/loss"
    l.fit()
    metas = {p.name: json.loads((p / "meta.json").read_text())["metrics"]["train/loss"] for p in mgr.steps()}
    assert "step-00000010" in metas and "step-00000009" in metas
    assert len(metas) <= 3


def test_mlm_batches_resume_exactly_and_bf16_trains_on_cpu(tmp_path):
    from codex_nb.learner import MLMBatches
    from codex_nb.models import build_minilm
    a = MLMBatches(TokenBatches(STREAM, 16, 2, seed=3), mask_id=2, vocab_size=40, special_ids=(0,), seed=4)
    for _ in range(5): next(a)
    state = a.state_dict()
    b = MLMBatches(TokenBatches(STREAM, 16, 2, seed=3), mask_id=2, vocab_size=40, special_ids=(0,), seed=99)
    torch.save(state, tmp_path / "s.pt")
    b.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    for _ in range(3):
        (x1, y1), (x2, y2) = next(a), next(b)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    torch.manual_seed(0)
    enc = build_minilm(tiny_model(name="minilm", n_embd=32))
    l = Learner(enc, a, TrainingConfig(max_steps=3, batch_size=2, precision="bf16", warmup_steps=0))
    l.fit()
    assert torch.isfinite(l.loss) and l.step == 3


@pytest.mark.slow
def test_compiled_learner_trains_and_resumes_like_eager(tmp_path):
    "torch.compile changes the speed, not the checkpoint: a compiled run's checkpoint resumes in an eager learner."
    l, mgr = learner(tmp_path, steps=4, every=2)
    l.cfg.compile = True
    l.fwd = torch.compile(l.model)
    l.fit()
    assert torch.isfinite(l.loss)
    fresh, _ = learner(tmp_path / "x")
    load_checkpoint(fresh, mgr.steps()[-1])
    assert fresh.step == 4
    for k, v in l.model.state_dict().items(): assert torch.equal(v, fresh.model.state_dict()[k])
