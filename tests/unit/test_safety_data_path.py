"""The data path really applies the safety filter: a secret planted in a corpus never reaches the tokenizer
or the token shards (proven by decoding the shards), the manifest counts it, `safety.data=drop` drops the
document, and a changed policy never reuses data prepared under another."""
import json
import random
import string

import numpy as np

from codex_nb.data import read_tokens
from codex_nb.tokenization import load_tokenizer

from conftest import BIN, TINY, run

R = random.Random(11)
def rs(chars, n): return "".join(R.choice(chars) for _ in range(n))

AWS = "AKIA" + rs(string.ascii_uppercase + "234567", 16)
GH = "ghp_" + rs(string.ascii_letters + string.digits, 36)
PW = "Zq8" + rs(string.ascii_letters, 9) + "-41x"
EMAIL = "margaret.hamilton@apollo-guidance.net"
MARKER = "canary_marker_that_is_not_a_secret"


def corpus(tmp):
    src = tmp / "corpus"
    src.mkdir()
    clean = "def add_{i}(a, b):\n    '''Add two numbers.'''\n    return a + b + {i}\n\n" * 3
    for i in range(12): (src / f"mod{i:02d}.py").write_text(clean.format(i=i))
    (src / "settings.py").write_text(f'# {MARKER}\nAWS_ACCESS_KEY_ID = "{AWS}"\nGITHUB_TOKEN = "{GH}"\n'
                                     f'DATABASE_URL = "postgres://app:{PW}@db.acme.io/app"\n# maintainer {EMAIL}\n' * 4)
    return src


def prepare(tmp, src, name, *extra):
    r = run([BIN / "codex-data", "prepare", TINY, f"data.source={src}", "data.val_fraction=0.3", f"run.dir={tmp / name}",
             f"run.root={tmp / 'runs'}", *extra, "--quiet"], cwd=tmp)
    assert r.returncode == 0, r.stderr
    return json.loads((tmp / name / "data" / "manifest.json").read_text()), r.stdout


def decoded_shards(m):
    tok = load_tokenizer(m["tokenizer"]["cache"])
    texts = []
    for split, info in m["shards"]["splits"].items():
        ids = np.asarray(read_tokens(f"{m['shards']['dir']}/{split}.bin", info["dtype"]))
        texts.append(tok.decode(ids.tolist(), skip_special_tokens=False))
    return "\n".join(texts), tok


def test_planted_secrets_never_reach_the_token_shards(tmp_path):
    m, out = prepare(tmp_path, corpus(tmp_path), "run")
    text, tok = decoded_shards(m)
    assert MARKER in text  # negative control: the planted document is in the shards, decoded as text
    for secret in (AWS, GH, PW, EMAIL): assert secret not in text
    for p in ("<SECRET:aws_access_key>", "<SECRET:github_token>", "<SECRET:url_credentials>", "<PII:email>"): assert p in text
    assert not any(s in t for t in tok.get_vocab() for s in (AWS[4:12], GH[4:12], PW[3:10]))  # nor the vocabulary
    assert m["safety"]["counts"] == {"aws_access_key": 4, "email": 4, "github_token": 4, "url_credentials": 4}
    assert m["safety"]["documents"] == 1 and m["safety"]["data"] == "redact"
    doc = next(d for d in m["documents"] if d["path"] == "settings.py")
    assert doc["safety"] == m["safety"]["counts"]
    assert "safety     redacted: 4 aws_access_key, 4 email, 4 github_token, 4 url_credentials in 1 documents" in out


def test_drop_policy_leaves_the_document_out_and_changes_the_cache_key(tmp_path):
    src = corpus(tmp_path)
    kept, _ = prepare(tmp_path, src, "kept")
    dropped, _ = prepare(tmp_path, src, "dropped", "safety.data=drop")
    assert dropped["content_hash"] != kept["content_hash"] and dropped["shards"]["dir"] != kept["shards"]["dir"]
    assert [d["path"] for d in dropped["documents"] if d["split"] == "dropped"] == ["settings.py"]
    text, _ = decoded_shards(dropped)
    assert MARKER not in text and AWS not in text
    assert dropped["safety"]["dropped"] == 1


def test_data_keep_leaves_a_kind_in_the_training_text(tmp_path):
    m, _ = prepare(tmp_path, corpus(tmp_path), "keep", "safety.data_keep=[email]")
    text, _ = decoded_shards(m)
    assert EMAIL in text and AWS not in text
    assert "email" not in m["safety"]["counts"]


def test_a_tokenizer_trained_from_a_corpus_never_learns_its_secrets(tmp_path):
    src = tmp_path / "corpus"
    src.mkdir()
    word = "frobnicate_widget_registry"  # negative control: a repeated non-secret identifier is merged into tokens
    for i in range(30): (src / f"m{i}.py").write_text(f'TOKEN = "{GH}"\n{word}({i})\n' * 5)
    r = run([BIN / "codex-tokenizer", "train", "--corpus", src, "--kind", "bpe", "--vocab-size", "600", "--out", tmp_path / "tok", "--quiet"])
    assert r.returncode == 0, r.stderr
    vocab = load_tokenizer(tmp_path / "tok").get_vocab()
    assert any("frobnic" in t for t in vocab)
    assert not any(GH[4:10] in t or GH[10:16] in t or GH[20:26] in t for t in vocab)
