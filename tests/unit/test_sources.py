"Every source kind streams its documents; a list of sources is read in order; one changed byte changes the manifest."
import json

import pyarrow as pa
import pyarrow.parquet as pq

from codex_nb.config import DataConfig
from codex_nb.data import build_manifest, iter_documents


def names(cfg):
    return [(d.source, d.name) for d in iter_documents(cfg)]


def test_table_sources_and_a_list_of_sources(tmp_path):
    pq.write_table(pa.table({"code": ["def a():\n    pass\n", "b = 2\n"]}), tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"code": f"x = {i}\n"}) for i in range(3)) + "\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "one.txt").write_text("first document\nkeeps its lines\n")
    (tmp_path / "docs" / "two.txt").write_text("second\n")
    cfg = DataConfig(source=[f"parquet:{tmp_path / 't.parquet'}", f"jsonl:{tmp_path / 't.jsonl'}",
                             f"text:{tmp_path / 'docs' / '*.txt'}", "stdlib:json"], text_field="code")
    got = names(cfg)
    assert got[:5] == [(0, "t.parquet:0"), (0, "t.parquet:1"), (1, "t.jsonl:0"), (1, "t.jsonl:1"), (1, "t.jsonl:2")]
    texts = [d.text for d in iter_documents(cfg) if d.source == 2]
    assert sorted(texts) == ["first document\nkeeps its lines\n", "second\n"]  # one document per file
    assert {n for s, n in got if s == 3} >= {"json/__init__.py", "json/decoder.py"}


def test_one_changed_byte_changes_the_manifest(tmp_path):
    for i in range(5): (tmp_path / f"f{i}.py").write_text(f"value = {i}\n" * 50)
    cfg = DataConfig(source=str(tmp_path))
    before = build_manifest(cfg, seed=0)
    raw = bytearray((tmp_path / "f3.py").read_bytes()); raw[-2] ^= 1
    (tmp_path / "f3.py").write_bytes(bytes(raw))
    after = build_manifest(cfg, seed=0)
    assert after["content_hash"] != before["content_hash"]
    changed = [a["path"] for a, b in zip(after["documents"], before["documents"], strict=True) if a["sha256"] != b["sha256"]]
    assert changed == ["f3.py"]


def test_glob_names_are_relative_to_the_fixed_part(tmp_path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "m.py").write_text("m = 1\n")
    (tmp_path / "src" / "top.py").write_text("t = 1\n")
    assert names(DataConfig(source=f"{tmp_path}/src/**/*.py")) == [(0, "pkg/m.py"), (0, "top.py")]
