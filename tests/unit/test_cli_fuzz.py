"""Fuzzed argument lists for the console commands, called in-process: the exit code is 0, 1 or 2, no traceback
(nor an "internal error") reaches stderr, and exit 2 comes with exactly one line that starts with the program
name and nothing on stdout. `codex-train` is fuzzed only against a finished run folder, which must stay byte for
byte as it was. Everything runs in a temporary folder, never writes outside it and never opens a network socket."""
import dataclasses
import json
import random
import shutil
import socket
import string
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from codex_nb.cli import (COMMANDS, data_main, eval_main, generate_main, main, registry_main, safety_main, tokenizer_main, train_main,
                          validate_config_main)
from codex_nb.checkpoint import MOVABLE_KEYS, RUNTIME_KEYS
from codex_nb.config import Config, flatten, load_config, schema_keys

from conftest import BIN, ROOT, TEST_ENV, TINY, call_main, files_of, run

R = random.Random(11)
AWS = "AKIA" + "".join(R.choice(string.ascii_uppercase + "234567") for _ in range(16))  # a made-up key of the real format

# ---------------------------------------------------------------- calling a command as a process would

NETWORK: list = []  # connection attempts seen by the guard below


def check_contract(prog, argv, code, out, err, allowed=(0, 1, 2)):
    "The exit-code contract of the architecture's 'Command line' section."
    ctx = f"\nargv={argv!r}\nexit={code!r}\nstdout={out[-800:]!r}\nstderr={err[-4000:]}"
    assert not NETWORK, f"network access: {NETWORK}{ctx}"
    debug = "--debug" in argv  # tracebacks are allowed (asked for) with --debug
    no_traceback = debug or "Traceback" not in err  # plain booleans: pytest's introspection of long outputs is slow
    assert no_traceback, ctx
    no_internal_error = "internal error" not in err
    assert no_internal_error, ctx
    assert code in allowed, ctx
    if code == 2 and not debug:
        lines = err.splitlines()
        one_line = len(lines) == 1 and bool(lines[0].strip())
        assert one_line, "exit 2 needs exactly one line on stderr" + ctx
        named = lines[0].startswith(f"{prog}: error: ")
        assert named, ctx
        nothing_done = out == ""
        assert nothing_done, "exit 2 means nothing was done: stdout stays empty" + ctx


def fuzz(prog, main_fn, argv, stdin="", allowed=(0, 1, 2)):
    "Run the command in-process on `argv` and check the contract."
    check_contract(prog, argv, *call_main(main_fn, argv, stdin), allowed=allowed)

# ---------------------------------------------------------------- the world the commands see


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    "A finished tiny run, a copy of it, a tokenizer, odd files and folders; the current folder is an empty tmp folder."
    base = tmp_path_factory.mktemp("cli-fuzz")
    r = run([BIN / "codex-train", TINY, f"run.dir={base / 'finished'}", f"run.root={base / 'root'}", "training.max_steps=3",
             "checkpoint.every=0", "--quiet"], cwd=base)
    assert r.returncode == 0, r.stderr
    f = {"base": base, "finished": base / "finished", "root": base / "root"}
    f["run"] = base / "run-copy"  # what generate and the others read: the finished folder stays untouched
    shutil.copytree(f["finished"], f["run"])
    f["ckpt"] = f["run"] / "checkpoints" / (f["run"] / "checkpoints" / "LATEST").read_text().strip()
    f["tok"] = base / "tok"
    shutil.copytree(f["finished"] / "tokenizer", f["tok"])
    d = base / "files"
    d.mkdir()
    files = {"empty.txt": b"", "secret.py": f"x = 1\nKEY = '{AWS}'\n# mail jane.doe@acme-robotics.com\n".encode(),
             "latin1.txt": b"caf\xe9 = 1\n", "binary.bin": b"\x00\x01\x02\xff\xfe" * 10, "crlf.txt": b"a\r\nb\rc\n\t\n",
             "bom.txt": b"\xef\xbb\xbfprint(1)\n", "long.txt": b"x" * 5000 + b"\n", "bad.yaml": b"training:\n  lr: [1, 2\n",
             "list.json": b"[1, 2]", "manifest.json": b'{"documents": []}', "manifest2.json": b'{"documents": 5, "data": 3}',
             "utf16.txt": "hi\n".encode("utf-16"), "eq=name.yaml": b"seed: 1\n"}
    for name, data in files.items(): (d / name).write_bytes(data)
    (base / "emptydir").mkdir()
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "a.py").write_bytes(files["secret.py"])
    (base / "tree" / "sub" / "b.txt").write_bytes(b"nothing here\n")
    (base / "badtok").mkdir()
    (base / "badtok" / "tokenizer.json").write_bytes(b"{not json")
    (base / "badrun" / "checkpoints").mkdir(parents=True)
    (base / "badrun" / "checkpoints" / "LATEST").write_text("step-00000009\n")
    f["files"] = {n: d / n for n in files}
    f["cwd"] = base / "cwd"
    f["cwd"].mkdir()
    (f["cwd"] / "afile.txt").write_text("I am a file\n")
    (f["cwd"] / "nonempty").mkdir()
    (f["cwd"] / "nonempty" / "x").write_text("x\n")
    f["paths"] = [str(p) for p in [*f["files"].values(), base / "emptydir", base / "tree", base / "tree" / "a.py", base / "missing",
                                   base / "badtok", base / "badrun", f["tok"], f["tok"] / "tokenizer.json", f["run"], f["ckpt"]]]
    f["paths"] += ["afile.txt", "nonempty", "missing-here", ".", ""]
    return f


@pytest.fixture(scope="module", autouse=True)
def sandbox(fx):
    "Run in the empty tmp folder with the tests' environment, and refuse every internet connection."
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(real):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                NETWORK.append(address)
                raise OSError(f"fuzz tests do not use the network ({address})")
            return real(self, address)
        return connect

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(fx["cwd"])
        for k, v in TEST_ENV.items(): mp.setenv(k, v)
        mp.setattr(socket.socket, "connect", guard(real_connect))
        mp.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
        yield
    NETWORK.clear()

# ---------------------------------------------------------------- strategies


NUMBERS = ["-1", "0", "nan", "inf", "-inf", "1e999", "3", "1", "0.5", "2", "-0", "4294967296", "99999999999999999999", "0x10", "1_0", "1e-300",
           "5e-324", "+5", " 7", "٣", "²"]
YAMLISH = ["null", "~", "[]", "{}", "[1, 2]", "{a: 1}", "true", "no", "''", "'", "[", "${x}", "${oc.env:HOME}", "!!binary aGk=",
           "2024-01-01", "&a x", "*a", "|", ">", "- x", "a: b", "\\n", "é", "🙂"]
SURROGATES = ["\udcff", "a\udc80b", "\udce9t\udce9.yaml"]  # what undecodable bytes in argv become under surrogateescape
SUBCOMMANDS = {"prepare", "train", "encode", "decode", "inspect", "export", "verify", "scan", "redact", "humaneval", "samples",
               "perplexity", "experiment"}


def safe_text(t: str) -> bool:
    "Text that stays inside the current folder when read as a path, and could be a real argv item (no NUL)."
    return "\x00" not in t and not t.startswith(("/", "~")) and ".." not in t and t.strip() not in SUBCOMMANDS


odd_text = st.text(max_size=12).filter(safe_text)
junk = st.one_of(odd_text, st.sampled_from(NUMBERS + YAMLISH + SURROGATES + ["-", "--", "-h", "--help", "--debug", "-x", "--nope", "="]))


def leaf_choices() -> dict:
    "Every schema key with its allowed choices (empty when it has none)."
    out = {}
    def walk(cls, prefix):
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.type): walk(f.type, f"{prefix}{f.name}.")
            else: out[prefix + f.name] = list(f.metadata.get("choices", []))
    walk(Config, "")
    return out


CHOICES = leaf_choices()
assert set(CHOICES) == set(schema_keys())


def value_for(key, paths, saved=None):
    "Odd values for a schema key: numbers, YAML oddities, text, its own choices, real paths, and (when given) its saved value."
    options = [st.sampled_from(NUMBERS + YAMLISH), odd_text, st.sampled_from(paths)]
    if CHOICES.get(key): options.append(st.sampled_from(CHOICES[key]))
    if saved is not None and key in saved: options.append(st.just(json.dumps(saved[key])))
    return st.one_of(options)


def overrides(paths, keys=None, saved=None):
    "`key=value` strings: schema keys (and near misses) with odd values (paths among them), and arbitrary text."
    keys = keys or schema_keys()
    kv = st.sampled_from(keys + ["training", "nope", "training.nope", "a.b.c", " seed", "Training.lr"]).flatmap(
        lambda k: value_for(k.strip(), paths, saved).map(lambda v: f"{k}={v}"))
    return st.one_of(kv, kv, odd_text.filter(lambda t: not t.startswith("-")))


@st.composite
def argv_for(draw, head, options, positional=None, max_pieces=4):
    "`head` words, then options with values from their strategies (None: a flag), positionals, and now and then junk."
    argv = list(draw(head))
    for _ in range(draw(st.integers(0, max_pieces))):
        what = draw(st.integers(0, 11))
        if what < 8 and options:
            name = draw(st.sampled_from(sorted(options)))
            if options[name] is None: argv.append(name)
            elif draw(st.integers(0, 5)) == 0: argv.append(f"{name}={draw(options[name])}")
            else: argv += [name, draw(options[name])]
        elif what < 11 and positional is not None: argv.append(draw(positional))
        else: argv.append(draw(junk))
    return argv


@st.composite
def subcommand(draw, specs, max_pieces=4):
    "A subcommand of `specs` ({name: (required words, options, positional)}), now and then a junk one or none."
    i = draw(st.integers(0, 19))
    if i < 2: return draw(argv_for(st.just([draw(junk)] if i else []), {}, junk, 2))
    name = draw(st.sampled_from(sorted(specs)))
    required, options, positional = specs[name]
    return draw(argv_for(required.map(lambda r: [name, *r]), options, positional, max_pieces))


def mostly(strategy, other):
    "Four draws in five from `strategy`, the others from `other`."
    return st.integers(0, 4).flatmap(lambda i: strategy if i else other)


def usually(value, other):
    "Mostly `value`, sometimes a draw of `other`."
    return mostly(st.just(value), other)

# ---------------------------------------------------------------- the commands


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_validate_config_keeps_the_exit_code_contract(fx, data):
    "codex-validate-config FILE [key=value ...] [--print]: 0 or 2, one line on 2."
    paths = fx["paths"] + [str(TINY), str(ROOT / "configs" / "default.yaml")]
    file = usually([str(TINY)], st.sampled_from(paths + SURROGATES).map(lambda p: [p]) | st.just([]))
    argv = data.draw(argv_for(file, {"--print": None}, overrides(paths + [str(fx["run"])] + SURROGATES)))
    fuzz("codex-validate-config", validate_config_main, argv, allowed=(0, 2))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_registry_keeps_the_exit_code_contract(data):
    "codex-registry [REGISTRY ...]: 0 or 2, one line on 2."
    names = st.sampled_from(["models", "tokenizers", "datasets", "metrics", "callbacks", "model", "Models", ""])
    argv = data.draw(argv_for(st.just([]), {}, names))
    fuzz("codex-registry", registry_main, argv, allowed=(0, 2))


def tokenizer_strategies(fx):
    paths = st.sampled_from(fx["paths"] + SURROGATES)
    text = st.one_of(odd_text, st.text(max_size=30).filter(lambda t: "\x00" not in t), st.sampled_from(SURROGATES + ["-x", "--text"]))
    corpora = st.sampled_from([str(fx["base"] / "tree"), str(fx["files"]["secret.py"]), str(fx["files"]["empty.txt"]),
                               f"jsonl:{fx['files']['list.json']}", f"text:{fx['files']['crlf.txt']}", f"parquet:{fx['files']['binary.bin']}",
                               str(fx["base"] / "emptydir"), "missing-here", "stdlib:json", "nope:x", str(fx["files"]["latin1.txt"])])
    tok = usually(str(fx["tok"]), paths)
    return paths, text, corpora, tok


@pytest.mark.parametrize("sub", ["encode", "decode", "inspect"])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_tokenizer_encode_decode_inspect_keep_the_exit_code_contract(fx, sub, data):
    "codex-tokenizer encode|decode|inspect on a real small tokenizer and on things that are not one."
    paths, text, corpora, tok = tokenizer_strategies(fx)
    ids = st.one_of(st.integers(-5, 400).map(str), st.sampled_from(NUMBERS), junk)
    need = tok.map(lambda t: ["--tokenizer", t])
    specs = {"encode": (need, {"--tokenizer": tok, "--text": text, "--file": paths}, None),
             "decode": (need, {"--tokenizer": tok}, ids),
             "inspect": (need, {"--tokenizer": tok, "--corpus": corpora}, None)}
    argv = data.draw(subcommand({sub: specs[sub]}))
    fuzz("codex-tokenizer", tokenizer_main, argv, stdin=data.draw(st.sampled_from(["", "1 2 3", "x y", "65 66\n", "-1", "99999"])))


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_tokenizer_train_on_tiny_corpora_keeps_the_exit_code_contract(fx, data):
    "codex-tokenizer train with tiny corpora and small vocabularies, writing only under the current (tmp) folder."
    paths, text, corpora, tok = tokenizer_strategies(fx)
    out = st.sampled_from(["tok-out", "tok-out/sub", "afile.txt", "nonempty", "."])
    kinds = st.sampled_from(["bpe", "unigram", "wordpiece", "sp-unigram", "sp-bpe", "BPE", ""])
    sizes = st.sampled_from(NUMBERS + ["263", "300", "400"])
    options = {"--corpus": corpora, "--kind": kinds, "--vocab-size": sizes, "--out": out, "--min-frequency": sizes,
               "--sample-bytes": st.sampled_from(NUMBERS + ["100"]), "--include": st.sampled_from(["*.py", "*", "*.txt", ""]) | odd_text,
               "--quiet": None}
    need = st.tuples(corpora, kinds, sizes, out).map(lambda t: ["--corpus", t[0], "--kind", t[1], "--vocab-size", t[2], "--out", t[3]])
    argv = data.draw(subcommand({"train": (mostly(need, st.just([])), options, None)}, max_pieces=3))
    fuzz("codex-tokenizer", tokenizer_main, argv)


@pytest.mark.parametrize("sub", ["scan", "redact"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_safety_scan_and_redact_keep_the_exit_code_contract(fx, sub, data):
    "codex-safety scan|redact on odd files and folders; redact writes only under the current (tmp) folder."
    paths = st.sampled_from(fx["paths"] + SURROGATES) | odd_text
    outs = st.sampled_from(["red-out", "red-out/nested", "afile.txt", "nonempty", "emptyout", ".", "", "missing-here/x"])
    workers = st.sampled_from(NUMBERS)
    exclude = st.sampled_from(["*.py", "sub", "*", "[", ""]) | odd_text
    specs = {"scan": (st.lists(paths, min_size=1, max_size=3), {"--workers": workers, "--no-pii": None, "--exclude": exclude}, paths),
             "redact": (st.tuples(st.lists(paths, min_size=1, max_size=3), outs).map(lambda t: [*t[0], "--out", t[1]]),
                        {"--exclude": exclude, "--out": outs}, paths)}
    argv = data.draw(subcommand({sub: specs[sub]}, max_pieces=3))
    fuzz("codex-safety", safety_main, argv)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_data_verify_keeps_the_exit_code_contract(fx, data):
    "codex-data verify RUN_DIR|MANIFEST on a real run, odd files and folders (prepare is never called)."
    targets = st.sampled_from(fx["paths"] + [str(fx["finished"]), str(fx["finished"] / "data" / "manifest.json")] + SURROGATES) | odd_text
    argv = data.draw(subcommand({"verify": (targets.map(lambda t: [t]), {}, targets)}, max_pieces=1))
    fuzz("codex-data", data_main, argv)


JSON_ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_data_verify_on_any_manifest_json_keeps_the_exit_code_contract(fx, data):
    "codex-data verify on manifest.json files of every odd shape: 0, 1 or 2 with one line, never a traceback."
    safe_sources = st.sampled_from([str(fx["base"] / "tree"), str(fx["base"] / "missing"), "stdlib:json", "nope:x", "", "[]"])
    source = st.one_of(safe_sources, st.lists(safe_sources, max_size=2), JSON_ATOMS.filter(lambda v: not isinstance(v, str) or safe_text(v)))
    data_cfg = st.one_of(JSON_ATOMS, st.fixed_dictionaries({"source": source}, optional={
        "include": st.lists(st.sampled_from(["*.py", "*", 1]), max_size=2), "max_file_bytes": JSON_ATOMS, "val_fraction": JSON_ATOMS,
        "nope": JSON_ATOMS}))
    doc = st.fixed_dictionaries({}, optional={"source": st.integers(-2, 3) | JSON_ATOMS, "path": st.sampled_from(["a.py", "sub/b.txt"]) | JSON_ATOMS,
                                              "sha256": JSON_ATOMS, "split": st.sampled_from(["train", "val"]) | JSON_ATOMS})
    manifest = st.fixed_dictionaries({"documents": st.lists(doc, max_size=3) | JSON_ATOMS}, optional={
        "data": data_cfg, "sources": st.lists(st.fixed_dictionaries({}, optional={"spec": st.text(max_size=5)}) | JSON_ATOMS, max_size=3) | JSON_ATOMS,
        "format_version": st.integers(-1, 5) | JSON_ATOMS, "tokenizer": st.fixed_dictionaries({}, optional={"sha256": JSON_ATOMS}) | JSON_ATOMS,
        "seed": JSON_ATOMS})
    m = data.draw(manifest)
    folder = Path(data.draw(st.sampled_from(["mf-a", "mf-b"])))
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "manifest.json").write_text(json.dumps(m))
    target = data.draw(st.sampled_from([str(folder), str(folder / "data" / "manifest.json")]))
    fuzz("codex-data", data_main, ["verify", target])


@pytest.mark.parametrize("focus", ["sampling", "device", "safety", "inputs"])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_generate_keeps_the_exit_code_contract(fx, focus, data):
    "codex-generate on the tiny checkpoint, one group of options fuzzed at a time on top of a valid call, a few tokens each."
    ckpts = st.sampled_from([str(fx["run"]), str(fx["ckpt"]), str(fx["run"] / "checkpoints")] * 3 + fx["paths"] + SURROGATES)
    text = st.one_of(odd_text, st.text(max_size=20).filter(lambda t: "\x00" not in t), st.sampled_from(SURROGATES + ["def ", f"k = '{AWS}'"]))
    small = st.sampled_from(NUMBERS + ["4", "8", "16", "100"])
    safety = st.sampled_from(["generations", "prompts", "kinds", "dangerous_code", "dangerous_deny", "data", "nope", "prompt_injection"]).flatmap(
        lambda k: st.sampled_from(["block", "allow", "redact", "warn", "['.']", "[email=block]", "[", "null", "x"] + SURROGATES).map(
            lambda v: f"{k}={v}"))
    groups = {"sampling": {"--max-new-tokens": small, "--temperature": small, "--top-k": small, "--top-p": small, "--seed": small,
                           "--stop": text, "--stream": None},
              "device": {"--device": st.sampled_from(["cpu", "auto", "cuda", "cuda:7", "mps", "tpu", "", "cpu:0", "meta", "xla", "CPU"] + SURROGATES)},
              "safety": {"--safety": safety, "--prompt": text, "--stream": None},
              "inputs": {"--checkpoint": ckpts, "--prompt": text, "--prompt-file": st.sampled_from(fx["paths"] + SURROGATES)}}
    start = st.sampled_from([["--checkpoint", str(fx["run"]), "--prompt", "def "]] * 4 + [["--checkpoint", str(fx["ckpt"]), "--prompt-file",
                             str(fx["files"]["crlf.txt"])], ["--checkpoint", str(fx["ckpt"])], []])
    argv = data.draw(argv_for(start.map(lambda s: ["--max-new-tokens", "4", *s]), groups[focus]))
    fuzz("codex-generate", generate_main, argv)


@pytest.mark.parametrize("sub", ["humaneval", "samples", "perplexity"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_eval_argument_errors_keep_the_exit_code_contract(fx, sub, data):
    "codex-eval humaneval|samples|perplexity where nothing gets evaluated: no checkpoint is valid, no samples file is."
    bad_ckpts = [str(fx["base"] / n) for n in ("missing", "badrun", "emptydir", "tree", "tok")] + [str(fx["files"]["empty.txt"])]
    files = st.sampled_from([str(p) for p in fx["files"].values()] + bad_ckpts + ["missing-here"])
    num = st.sampled_from(NUMBERS)
    ckpt = st.sampled_from(bad_ckpts + SURROGATES)
    common = {"--checkpoint": ckpt, "--device": st.sampled_from(["cpu", "cuda", "mps", "x"]), "--batch-size": num}
    scoring = {"--k": st.sampled_from(["1,10", "0", "1,,2", "a", "", "-1", "5"]), "--problems": files, "--workers": num, "--timeout": num,
               "--memory-mb": num}
    out = {"--out": st.sampled_from(["eval-out", "afile.txt"]), "--quiet": None}
    specs = {"humaneval": (mostly(ckpt.map(lambda c: ["--checkpoint", c]), st.just([])),
                           {**common, **scoring, **out, "--n-samples": num, "--temperature": num, "--top-p": num, "--max-new-tokens": num,
                            "--seed": num, "--limit": num, "--tasks": st.sampled_from(["HumanEval/0", "nope", ",", ""])}, None),
             "samples": (mostly(files.map(lambda f: [f]), st.just([])), {**scoring, **out}, None),
             "perplexity": (mostly(st.tuples(ckpt, files).map(lambda t: ["--checkpoint", t[0], "--data", t[1]]), st.just([])),
                            {**common, **out, "--data": files, "--include": st.just("*.py"), "--max-tokens": num}, None)}
    argv = data.draw(subcommand({sub: specs[sub]}))
    fuzz("codex-eval", eval_main, argv)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_python_m_codex_nb_dispatch_keeps_the_exit_code_contract(fx, data):
    "python -m codex_nb NAME ...: help, unknown names and cheap commands; the dispatcher's own errors are one `codex_nb:` line."
    cheap = ("registry", "validate-config")  # never train, data, experiment...: no work may start here
    name = (st.sampled_from(["registry", "codex-registry", "validate-config", "help", "-h", "--help", "Registry", "codex-", "trains"]) | odd_text).filter(
        lambda n: n.removeprefix("codex-") not in COMMANDS or n.removeprefix("codex-") in cheap)
    argv = data.draw(argv_for(name.map(lambda n: [n]), {}, st.sampled_from(["models", str(TINY), "seed=3", "x"]) | junk, max_pieces=3))
    prog = f"codex-{argv[0].removeprefix('codex-')}" if argv and argv[0].removeprefix("codex-") in cheap else "codex_nb"
    fuzz(prog, main, argv)

# ---------------------------------------------------------------- codex-train against a finished run


def train_on_finished(fx, argv):
    "Run codex-train `argv` in-process, check the contract (0 or 2), then that the finished folder, run.root and the current folder are as before."
    fin, root = fx["finished"], fx["root"]
    before, root_before, cwd_before = files_of(fin), sorted(p.name for p in root.iterdir()), sorted(p.name for p in Path.cwd().iterdir())
    try:
        fuzz("codex-train", train_main, argv, allowed=(0, 2))
    finally:
        after = files_of(fin)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        for k in changed:  # put the folder back, so that the next example (and shrinking) start from the finished run
            if k in before: (fin / k).write_bytes(before[k])
            else: (fin / k).unlink()
    assert not changed, f"codex-train {argv!r} changed {changed} in the finished run folder"
    assert sorted(p.name for p in root.iterdir()) == root_before, f"codex-train {argv!r} wrote into run.root"
    assert sorted(p.name for p in Path.cwd().iterdir()) == cwd_before, f"codex-train {argv!r} wrote into the current folder"


KEYS = [k for k in schema_keys() if k not in ("run.dir", "run.root", "training.max_steps")]  # these could start a real run
SPECIAL = sorted((RUNTIME_KEYS | MOVABLE_KEYS) & set(KEYS))  # the keys a resume compares in its own way


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_train_on_a_finished_run_exits_0_or_2_and_changes_nothing(fx, data):
    "codex-train on a finished run folder, any config and overrides: 0 (nothing to do) or 2 (refused); its files stay as they were."
    fin, root = fx["finished"], fx["root"]
    saved = flatten(load_config(fin / "config.yaml"))
    paths = [p for p in fx["paths"] if p] + [str(fx["run"])]
    config = data.draw(st.sampled_from([[str(TINY)]] * 3 + [[]] * 2 + [[str(fx["files"]["bad.yaml"])], [str(fx["files"]["eq=name.yaml"])]]))
    key = st.one_of(st.sampled_from(SPECIAL), st.sampled_from(KEYS))
    value = lambda k: st.integers(0, 9).flatmap(lambda i: st.just(json.dumps(saved[k])) if i < 4 else
                                                st.sampled_from(CHOICES[k] + ["auto", "null"]) if i < 7 else value_for(k, paths))
    plausible = key.flatmap(lambda k: value(k).map(lambda v: f"{k}={v}"))  # mostly values a run could have: deeper paths
    fuzzed = data.draw(st.lists(st.integers(0, 5).flatmap(lambda i: plausible if i else overrides(paths, KEYS, saved)), max_size=3))
    fixed = [f"run.dir={fin}", f"run.root={root}", "training.max_steps=3"] + data.draw(st.sampled_from([["checkpoint.every=0"], []]))
    resume = st.sampled_from([["--resume-from", "auto"]] * 6 + [[], ["--resume-from", str(fx["run"])], ["--resume-from", str(fx["base"] / "missing")],
                              ["--resume-from", str(fx["files"]["empty.txt"])]])
    flags = [data.draw(resume)] + data.draw(st.lists(st.sampled_from([["--quiet"], ["--system-metrics"], ["--tracking-uri", "sqlite:///mlflow-fuzz.db"],
                                                                   ["--resume-from", "auto"]]), max_size=2))
    train_on_finished(fx, config + fuzzed + fixed + [x for f in flags for x in f])


@pytest.mark.parametrize("key", SPECIAL)
def test_resuming_a_finished_run_with_a_key_the_resume_ignores_changes_nothing(fx, key):
    "The keys a resume compares in its own way (run-time and movable keys), at each allowed value: exit 0 or 2, nothing changes."
    fixed = [f"run.dir={fx['finished']}", f"run.root={fx['root']}", "training.max_steps=3", "checkpoint.every=0", "--resume-from", "auto", "--quiet"]
    for value in CHOICES[key] + ["auto", "null"]:
        train_on_finished(fx, [str(TINY), f"{key}={value}", *fixed])
