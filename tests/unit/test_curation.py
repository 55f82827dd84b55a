"""Curation before the split: on the default corpus the held-out split holds no generated file, no near-duplicate of a
training file and no file copied from training; with data.curate=false the dataset keeps the identity it had before
curation existed, so older runs resume."""
import numpy as np
import pytest

from codex_nb.config import DataConfig, UsageError, load_config
from codex_nb.data import (build_manifest, doc_minhash, generated_reason, iter_documents, long_lines, prepare_data,
                           sorted_member, word_ngrams)
from codex_nb.run import _prepared_data
from conftest import ROOT, TINY


def test_default_held_out_split_is_clean():
    cfg = load_config(ROOT / "configs/default.yaml").data
    m = build_manifest(cfg, seed=1337)
    split = {(d["source"], d["path"]): d["split"] for d in m["documents"]}
    texts = {(d.source, d.name): d.text for d in iter_documents(cfg)}
    held = [k for k, s in split.items() if s in ("val", "test")]
    train = [k for k, s in split.items() if s == "train"]
    assert held and not [k for k in held if generated_reason(texts[k])]
    sig = {k: doc_minhash(word_ngrams(texts[k])) for k in held + train}
    assert max(sig[h].jaccard(sig[t]) for h in held for t in train) < cfg.dedup_threshold
    lines = np.unique(np.concatenate([long_lines(texts[k])[0] for k in train]))
    copied = [k for k in held if len(keys := long_lines(texts[k])[0]) and sorted_member(keys, lines).mean() >= cfg.overlap_max]
    assert copied == []
    after, before = m["curation"]["verbatim"]["after"], m["curation"]["verbatim"]["before"]
    assert after["share"] <= 0.08 < before["share"] and after["documents_over"] == 0 < before["documents_over"]
    assert m["curation"]["dropped"]["generated"] > 0 and m["curation"]["near_duplicates"]["groups"] > 0


FILES = {"a.py": "def f(x):\n    return x + 1\n", "b.py": "import os\nprint(os.getcwd())\n", "c.py": "class C:\n    pass\n",
         "d/e.py": "X = [1, 2, 3]\n", "d/f.py": "# comment only line here\nY = 2\n"}


def test_curate_off_is_the_identity_data_had_before_curation(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "corpus" / name).write_text(text)
    monkeypatch.chdir(tmp_path)  # a relative source: the hash does not depend on where the test runs
    off = build_manifest(DataConfig(source="corpus", val_fraction=0.3, curate=False), seed=0)
    assert off["content_hash"] == "075bec52c2cf37a37829293c0e7bac82f882c303f9056ca2c09d2d78b0812f2c"  # codex_nb before curation
    on = build_manifest(DataConfig(source="corpus", val_fraction=0.3), seed=0)
    assert on["content_hash"] != off["content_hash"]  # negative control


def test_resume_names_the_curation_setting_a_run_started_with(tmp_path):
    run = tmp_path / "run"
    old = load_config(TINY, [f"run.root={tmp_path}", "data.curate=false"])
    prepare_data(old, run)
    with pytest.raises(UsageError, match="resume it with data.curate=false"):
        _prepared_data(load_config(TINY, [f"run.root={tmp_path}"]), run, resuming=True, progress=False)
    assert _prepared_data(old, run, resuming=True, progress=False)["content_hash"]
