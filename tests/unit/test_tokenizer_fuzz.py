"""Tokenizer round trips on hostile text: every kind promises `decode(encode(t)) == t` for any text (the tokenization
notebook: "every kind here is lossless ... CRLF, tabs and emoji included", with SentencePiece's two documented
exceptions: a literal U+2581 comes back as a space, and in sp-unigram a byte piece's literal name can come back as
that byte), so each is checked on unicode, whitespace runs, tabs, CR/LF, control characters, emoji, combining marks
and long runs; and `codex-tokenizer encode` then `decode` gives the text back for byte-level BPE, from `--text` and
from `--file`."""
import pytest
from hypothesis import assume, given, settings, strategies as st

from codex_nb.cli import tokenizer_main
from codex_nb.config import DataConfig
from codex_nb.data import iter_documents
from codex_nb.tokenization import save_tokenizer, train_tokenizer

from conftest import call_main

KINDS = ["bpe", "unigram", "wordpiece", "sp-unigram", "sp-bpe"]
CORPUS = [d.text for d in iter_documents(DataConfig(source="stdlib:json"))] + ["a\r\nb\tc  é 中文 🙂\r\n\n   x = 1\n"]


@pytest.fixture(scope="module")
def tokenizers():
    "One small tokenizer of every kind, trained once."
    return {kind: train_tokenizer(iter(CORPUS), kind, vocab_size=500) for kind in KINDS}


PIECES = st.one_of(
    st.text(max_size=12),  # any unicode but lone surrogates
    st.sampled_from([" ", "  ", "\t", "\t\t", "\n", "\r\n", "\r", "\n\n\n", " \t \n", "\u00a0", "\u3000", "\u2028", "\x0b", "\x0c", "\x85"]),
    st.text(st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=4),  # control characters, NUL included
    st.text(st.characters(categories=("Mn", "Me")), min_size=1, max_size=3),  # combining marks, alone or after anything
    st.sampled_from(["🙂", "👩‍👩‍👧", "🇫🇷", "e\u0301", "ﬁ", "\ufeff", "\U0010ffff", "\u2581", "▁▁", "Ġ", "##", "<unk>", "<0x41>", "<|endoftext|>",
                     "<|pad|>", "def f(x):\n    return x\n", "中文", "\u202e"]),
    st.tuples(st.sampled_from(["a", " ", "\n", "🙂", "\t", "x1", "é"]), st.integers(50, 600)).map(lambda t: t[0] * t[1]),  # long runs
)
TEXTS = st.lists(PIECES, max_size=6).map("".join)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=400, deadline=None)
@given(text=TEXTS)
def test_every_kind_decodes_what_it_encoded_exactly(tokenizers, kind, text):
    "decode(encode(t)) == t, special tokens kept, for every text."
    tok = tokenizers[kind]
    ids = tok.encode(text).ids
    want = text
    if kind.startswith("sp-"):
        want = text.replace("\u2581", " ")  # SentencePiece's whitespace marker, written in the text, is a space to it
        assume(kind != "sp-unigram" or "<0x" not in text)  # a byte piece's literal name may decode as its byte (documented)
    assert tok.decode(ids, skip_special_tokens=False) == want, (kind, text, ids)


def cli(argv, stdin=""):
    "codex-tokenizer in-process, `stdin` as its standard input: (exit code, stdout, stderr)."
    return call_main(tokenizer_main, argv, stdin)


@pytest.fixture(scope="module")
def bpe_dir(tokenizers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe-tok")
    save_tokenizer(tokenizers["bpe"], folder, "bpe")
    return folder


ARGV_TEXTS = TEXTS.filter(lambda t: "\x00" not in t)  # a command line cannot hold NUL


def decode_ids(folder, ids_line):
    "`codex-tokenizer decode` with the ids piped in, as in `encode | decode`."
    code, text, err = cli(["decode", "--tokenizer", str(folder)], stdin=ids_line)
    assert code == 0 and err == "", (code, err)
    return text


@settings(max_examples=60, deadline=None)
@given(text=ARGV_TEXTS)
def test_cli_encode_text_then_decode_gives_the_text_back(bpe_dir, text):
    "codex-tokenizer encode --text=T | decode == T for byte-level BPE."
    code, ids, err = cli(["encode", "--tokenizer", str(bpe_dir), f"--text={text}"])
    assert code == 0 and err == "", (code, err)
    assert ids.endswith("\n") and ids.count("\n") == 1, ids  # one line of ids
    assert decode_ids(bpe_dir, ids) == text


@settings(max_examples=60, deadline=None)
@given(text=TEXTS)
def test_cli_encode_file_then_decode_gives_the_file_back(bpe_dir, tmp_path_factory, text):
    "codex-tokenizer encode --file F | decode == the text of F, byte for byte (CR and CRLF included)."
    f = tmp_path_factory.mktemp("enc") / "text.txt"
    f.write_bytes(text.encode("utf-8"))
    code, ids, err = cli(["encode", "--tokenizer", str(bpe_dir), "--file", str(f)])
    assert code == 0 and err == "", (code, err)
    assert decode_ids(bpe_dir, ids) == text
