"`codex-data prepare|verify` and `codex-tokenizer` through the real commands: outputs, caching, bad input."
import json

import pytest

from conftest import BIN, TINY, assert_usage_error, run

DATA = BIN / "codex-data"
TOK = BIN / "codex-tokenizer"


def make_corpus(path, n=6):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (path / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n\n\nclass C{i}:\n    pass\n" * 20)
    return path


def prepare(tmp_path, *overrides):
    return run([DATA, "prepare", TINY, f"run.root={tmp_path / 'runs'}", *overrides, "--quiet"], cwd=tmp_path)


def test_prepare_writes_run_folder_and_reuses_the_cache(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    a = prepare(tmp_path, f"data.source={corpus}", "run.dir=runs/a")
    assert a.returncode == 0, a.stderr
    m = json.loads((tmp_path / "runs/a/data/manifest.json").read_text())
    assert {d["path"] for d in m["documents"]} == {f"mod{i}.py" for i in range(6)}
    assert m["tokenizer"]["sha256"] and m["shards"]["splits"]["train"]["tokens"] > 0
    assert (tmp_path / "runs/a/tokenizer/tokenizer.json").is_file()
    b = prepare(tmp_path, f"data.source={corpus}", "run.dir=runs/b")
    assert b.returncode == 0, b.stderr
    mb = json.loads((tmp_path / "runs/b/data/manifest.json").read_text())
    assert mb["shards"] == m["shards"] and mb["tokenizer"] == m["tokenizer"]
    assert len([p for p in (tmp_path / "runs/.cache/tokenizers").iterdir() if not p.name.startswith(".")]) == 1  # not its .lock-
    assert len([p for p in (tmp_path / "runs/.cache/datasets").iterdir() if not p.name.startswith(".")]) == 1
    assert not list((tmp_path / "runs/.cache").rglob(".tmp-*"))


def test_verify_names_every_changed_missing_and_added_file(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    assert prepare(tmp_path, f"data.source={corpus}", "run.dir=runs/a").returncode == 0
    ok = run([DATA, "verify", tmp_path / "runs/a"], cwd=tmp_path)
    assert ok.returncode == 0 and "ok, 6 documents" in ok.stdout
    raw = bytearray((corpus / "mod1.py").read_bytes()); raw[10] ^= 1
    (corpus / "mod1.py").write_bytes(bytes(raw))  # one flipped bit
    (corpus / "mod2.py").unlink()
    (corpus / "new.py").write_text("x = 1\n")
    r = run([DATA, "verify", tmp_path / "runs/a/data/manifest.json"], cwd=tmp_path)
    assert r.returncode == 1
    assert sorted(r.stdout.splitlines()) == sorted([f"changed: {corpus}: mod1.py", f"missing: {corpus}: mod2.py",
                                                   f"added: {corpus}: new.py"])


def test_non_utf8_file_among_good_ones_is_skipped_and_counted(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    r = prepare(tmp_path, f"data.source={corpus}", "run.dir=runs/a")
    assert r.returncode == 0, r.stderr
    assert "1 undecodable" in r.stdout
    m = json.loads((tmp_path / "runs/a/data/manifest.json").read_text())
    assert m["skipped"] == {"counts": {"undecodable": 1}, "files": [{"source": 0, "path": "latin1.py", "reason": "undecodable"}]}


@pytest.mark.parametrize("setup,override,needles", [
    (None, "data.source=/no/such/folder", ["no such file or folder"]),
    ("empty", "data.source={dir}", ["holds no files matching *.py"]),
    ("binary", "data.source={dir}", ["no usable documents", "3 binary"]),
    (None, "tokenizer.vocab_size=100", ["tokenizer.vocab_size=100 is smaller than the base alphabet of bpe"]),
    (None, "tokenizer.kind=bpee", ["unknown tokenizer 'bpee'", "did you mean 'bpe'"]),
    (None, "data.source=nosuchkind:x", ["unknown dataset source 'nosuchkind'", "available:"]),
])
def test_bad_data_input_exits_2_and_writes_nothing(tmp_path, setup, override, needles):
    d = tmp_path / "src"
    if setup:
        d.mkdir()
        if setup == "binary":
            for i in range(3): (d / f"b{i}.py").write_bytes(b"\x7fELF\x00\x01" * 10)
    r = prepare(tmp_path, override.format(dir=d), "run.dir=runs/a")
    assert_usage_error(r, "codex-data", *needles)
    assert not (tmp_path / "runs").exists()


def test_run_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("keep me\n")
    assert_usage_error(prepare(tmp_path, f"run.dir={tmp_path / 'afile'}"), "codex-data", "is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "keep me\n"


def test_verify_refuses_what_is_not_a_manifest(tmp_path):
    assert_usage_error(run([DATA, "verify", tmp_path]), "codex-data", "no manifest at")
    (tmp_path / "m.json").write_text("{not json")
    assert_usage_error(run([DATA, "verify", tmp_path / "m.json"]), "codex-data", "not a valid manifest")


def test_tokenizer_commands_round_trip(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "tok"
    r = run([TOK, "train", "--corpus", corpus, "--kind", "sp-bpe", "--vocab-size", "300", "--out", out, "--quiet"])
    assert r.returncode == 0, r.stderr
    text = "def f(x):\r\n\treturn 'é'  # 🙂\n"
    enc = run([TOK, "encode", "--tokenizer", out, "--text", text])
    assert enc.returncode == 0, enc.stderr
    dec = run([TOK, "decode", "--tokenizer", out, *enc.stdout.split()], text=False)  # bytes: keep the \r
    assert dec.returncode == 0 and dec.stdout.decode("utf-8") == text
    ins = run([TOK, "inspect", "--tokenizer", out, "--corpus", corpus])
    assert ins.returncode == 0, ins.stderr
    assert "vocabulary  300 tokens" in ins.stdout and "<|endoftext|>=" in ins.stdout and "bytes per token" in ins.stdout
    exp = run([TOK, "export", "--tokenizer", out, "--out", tmp_path / "hf"])
    assert exp.returncode == 0, exp.stderr
    assert (tmp_path / "hf" / "tokenizer.json").is_file()


@pytest.mark.parametrize("args,needles", [
    (["train", "--corpus", "{empty}", "--kind", "bpe", "--vocab-size", "300", "--out", "{out}"], ["holds no files matching"]),
    (["train", "--corpus", "{bin}", "--kind", "bpe", "--vocab-size", "300", "--out", "{out}"], ["no usable documents", "binary"]),
    (["train", "--corpus", "stdlib:json", "--kind", "wordpeice", "--vocab-size", "300", "--out", "{out}"], ["unknown tokenizer 'wordpeice'"]),
    (["train", "--corpus", "stdlib:json", "--kind", "unigram", "--vocab-size", "50", "--out", "{out}"], ["smaller than the base alphabet"]),
    (["train", "--corpus", "/no/such", "--kind", "bpe", "--vocab-size", "300", "--out", "{out}"], ["no such file or folder"]),
    (["encode", "--tokenizer", "{out}", "--text", "x"], ["no tokenizer at"]),
    (["train", "--kind", "bpe"], ["required"]),
])
def test_bad_tokenizer_input_exits_2(tmp_path, args, needles):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "x.py").write_bytes(b"\x00\x01\x02")
    args = [a.format(empty=tmp_path / "empty", bin=tmp_path / "bin", out=tmp_path / "out") for a in args]
    assert_usage_error(run([TOK, *args]), "codex-tokenizer", *needles)
    assert not (tmp_path / "out").exists()


def test_inspect_refusing_a_later_corpus_prints_nothing(tmp_path):
    "Every --corpus source is read to its end before the report starts: a bad second source leaves stdout empty (a CI fuzz finding)."
    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "tok"
    assert run([TOK, "train", "--corpus", corpus, "--kind", "bpe", "--vocab-size", "300", "--out", out, "--quiet"]).returncode == 0
    (tmp_path / "not.parquet").write_bytes(b"\x00\x01 not parquet")
    r = run([TOK, "inspect", "--tokenizer", out, "--corpus", corpus, "--corpus", f"parquet:{tmp_path / 'not.parquet'}"])
    assert_usage_error(r, "codex-tokenizer", "cannot be read as parquet")
