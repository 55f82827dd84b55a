"""Faults a real machine meets — a full disk, a folder the user cannot write, a kill during data preparation, damaged
cache files, a checkpoint from a newer codex_nb, a batch too large for memory — each met with its documented behaviour:
one clear line, the right exit code, and nothing already written lost.

Tests run as root, so permissions are tested as the unprivileged user `nobody` (setpriv) and through read-only bind
mounts, and the full disk is a size-limited tmpfs; mounts live in a private mount namespace (unshare) that dies with
the test."""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from codex_nb.io import sums_problem
from codex_nb.learner import read_metrics

from conftest import BIN, TEST_ENV, TINY, assert_usage_error, files_of, run

TRAIN = BIN / "codex-train"


def _can_mount() -> bool:
    "Root with the right to mount (CAP_SYS_ADMIN): what these machines and CI have; a locked-down container lacks it."
    if os.geteuid() != 0: return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
                           capture_output=True)
    return probe.returncode == 0


ROOT_ONLY = pytest.mark.skipif(not _can_mount(), reason="needs root with the right to mount (tmpfs, read-only binds) and to "
                                                        "switch to an unprivileged user; CI runs as such a root")
NOBODY = 65534  # the unprivileged uid and gid (nobody / nogroup), numeric: group names differ between distributions


def train(run_dir, root, *extra, env=None, timeout=300, preexec_fn=None):
    "codex-train on the tiny config into `run_dir`, caching under `root`."
    args = [TRAIN, TINY, f"run.dir={run_dir}", f"run.root={root}", "--quiet", *extra]
    full_env = {**os.environ, **TEST_ENV, **(env or {})}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=full_env, timeout=timeout, preexec_fn=preexec_fn)


def cut_back_to(run_dir, step:int) -> bytes:
    "Make a finished run look killed just after its checkpoint of `step`; return the final model's bytes it had."
    cks = Path(run_dir) / "checkpoints"
    last = sorted(cks.glob("step-*"))[-1]
    final = (last / "model.safetensors").read_bytes()
    for d in cks.glob("step-*"):
        if int(d.name[5:]) > step: shutil.rmtree(d)
    (cks / "LATEST").write_text(f"step-{step:08d}\n")
    return final


def last_losses(metrics_file) -> dict:
    "The last logged loss per (split, step), as readers take them."
    return {key: rec["loss"] for key, rec in read_metrics(metrics_file).items()}


def in_mount_namespace(script:str, timeout=600) -> subprocess.CompletedProcess:
    "Run a shell script in a private mount namespace: its mounts vanish with it."
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script], capture_output=True,
                          text=True, env={**os.environ, **TEST_ENV}, timeout=timeout)


def pages(n:int) -> int: return -(-n // 4096) * 4096


@ROOT_ONLY
def test_a_full_disk_during_a_checkpoint_keeps_the_last_one_and_the_run_resumes_exactly(tmp_path):
    root = tmp_path / "cache"
    ref = tmp_path / "ref"
    steps = ["training.max_steps=30", "checkpoint.every=10", "checkpoint.keep_last=10"]
    assert train(ref, root, *steps).returncode == 0
    ck = max(sum(pages(p.stat().st_size) for p in d.iterdir()) for d in (ref / "checkpoints").glob("step-*"))
    base = sum(pages(p.stat().st_size) for p in ref.rglob("*") if p.is_file() and "checkpoints" not in p.parts)
    size_kb = (base + 2 * ck + ck // 2) // 1024 + 16  # room for the checkpoints of steps 10 and 20, not of step 30
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir(); out.mkdir()
    rd = disk / "run"
    cmd = " ".join(str(a) for a in [TRAIN, TINY, f"run.dir={rd}", f"run.root={root}", "--quiet", *steps])
    script = f"""
mount -t tmpfs -o size={size_kb}k tmpfs {disk} || exit 99
{cmd} 2> {out}/err1; echo $? > {out}/rc1
ls -a {rd}/checkpoints > {out}/ls1; cat {rd}/checkpoints/LATEST > {out}/latest1
(cd {rd}/checkpoints/step-00000020 && sha256sum -c --quiet SHA256SUMS) > {out}/sums1 2>&1; echo $? >> {out}/sums1
mount -o remount,size=256m {disk} || exit 98
{cmd} --resume-from auto 2> {out}/err2; echo $? > {out}/rc2
cp {rd}/checkpoints/step-00000030/model.safetensors {out}/final.safetensors; cp {rd}/metrics.ndjson {out}/metrics.ndjson
"""
    r = in_mount_namespace(script)
    assert r.returncode == 0, (r.returncode, r.stderr)
    err1 = (out / "err1").read_text()
    assert (out / "rc1").read_text().strip() == "1", err1
    assert len(err1.splitlines()) == 1 and "Traceback" not in err1, err1
    assert err1.startswith("codex-train: error: could not write checkpoint step-00000030"), err1
    assert "the disk is full" in err1 and "step-00000020, is intact" in err1 and "--resume-from auto" in err1, err1
    assert (out / "ls1").read_text().split() == [".", "..", "LATEST", "step-00000010", "step-00000020"]  # no .tmp- left behind
    assert (out / "latest1").read_text() == "step-00000020\n"
    assert (out / "sums1").read_text().strip() == "0"  # the last checkpoint verifies with sha256sum
    assert (out / "rc2").read_text().strip() == "0", (out / "err2").read_text()
    assert (out / "final.safetensors").read_bytes() == (ref / "checkpoints/step-00000030/model.safetensors").read_bytes()
    assert last_losses(out / "metrics.ndjson") == last_losses(ref / "metrics.ndjson")


def as_nobody(args, cwd, home):
    "Run `args` as the unprivileged user nobody."
    env = {**os.environ, **TEST_ENV, "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")}
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture
def shared_tmp():
    "A folder every user may enter (pytest's own tmp folders are private to root)."
    d = Path(tempfile.mkdtemp(prefix="codex-perm-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@ROOT_ONLY
def test_folders_the_user_cannot_write_are_refused_before_any_work_and_left_as_they_were(shared_tmp):
    # the corpus: files every user reads alike (as nobody, this root-owned interpreter may see another standard library)
    from codex_nb.data import stdlib_root
    corpus = shared_tmp / "corpus"
    shutil.copytree(stdlib_root() / "email", corpus)
    for p in [corpus, *corpus.rglob("*")]: p.chmod(0o755 if p.is_dir() else 0o644)
    src = f"data.source={corpus}"
    home = shared_tmp / "home"; home.mkdir(); os.chown(home, NOBODY, NOBODY)
    mine = shared_tmp / "mine"; mine.mkdir(); os.chown(mine, NOBODY, NOBODY)  # nobody's own folder
    theirs = shared_tmp / "theirs"; theirs.mkdir()  # root's, mode 755: readable, not writable, by nobody
    # a run folder in root's folder
    r = as_nobody([TRAIN, TINY, src, f"run.dir={theirs / 'run'}", f"run.root={mine / 'cache'}", "--quiet"], mine, home)
    assert_usage_error(r, "codex-train", "not writable", "Permission denied")
    assert list(theirs.iterdir()) == [] and not (mine / "cache").exists()
    # the cache in root's folder, the run folder nobody's: refused when the cache must be written, nothing trained
    r = as_nobody([TRAIN, TINY, src, f"run.dir={mine / 'run'}", f"run.root={theirs}", "--quiet"], mine, home)
    assert_usage_error(r, "codex-train", "cache folder", "not writable", "set run.root")
    assert list(theirs.iterdir()) == [] and not (mine / "run" / "checkpoints").exists()
    # root's finished run, resumed (extended) by nobody: refused, every file unchanged
    done = theirs / "done"
    assert train(done, shared_tmp / "rootcache", src, "training.max_steps=10").returncode == 0
    for p in [shared_tmp / "rootcache", *(shared_tmp / "rootcache").rglob("*")]: p.chmod(p.stat().st_mode | 0o005)
    before = files_of(done)
    r = as_nobody([TRAIN, TINY, src, f"run.dir={done}", f"run.root={shared_tmp / 'rootcache'}", "training.max_steps=20",
                   "--resume-from", "auto", "--quiet"], mine, home)
    assert_usage_error(r, "codex-train", "not writable")
    assert files_of(done) == before
    # reading needs no write access: nobody samples from root's run, and prepares data from root's complete cache
    r = as_nobody([BIN / "codex-generate", "--checkpoint", done, "--prompt", "def ", "--max-new-tokens", "5", "--temperature", "0"],
                  mine, home)
    assert r.returncode == 0 and r.stdout.startswith("def "), r.stderr
    r = as_nobody([BIN / "codex-data", "prepare", TINY, src, f"run.dir={mine / 'prepared'}", f"run.root={shared_tmp / 'rootcache'}",
                   "--quiet"], mine, home)
    assert r.returncode == 0, r.stderr
    assert files_of(done) == before


@ROOT_ONLY
def test_a_read_only_checkpoints_mount_is_refused_before_any_work_and_a_read_only_run_still_serves(tmp_path):
    rd, root = tmp_path / "run", tmp_path / "cache"
    assert train(rd, root, "training.max_steps=10").returncode == 0
    before = files_of(rd)
    ck = rd / "checkpoints"
    resume = " ".join(str(a) for a in [TRAIN, TINY, f"run.dir={rd}", f"run.root={root}", "training.max_steps=20", "--resume-from", "auto", "--quiet"])
    generate = f"{BIN / 'codex-generate'} --checkpoint {rd} --prompt 'def ' --max-new-tokens 5 --temperature 0"
    script = f"""
mount --bind {ck} {ck} && mount -o remount,bind,ro {ck} || exit 99
{resume} 2> {tmp_path}/err1; echo $? > {tmp_path}/rc1
mount --bind {rd} {rd} && mount -o remount,bind,ro {rd} || exit 98
{generate} > {tmp_path}/gen 2> {tmp_path}/err2; echo $? > {tmp_path}/rc2
"""
    r = in_mount_namespace(script)
    assert r.returncode == 0, (r.returncode, r.stderr)
    err1 = (tmp_path / "err1").read_text()
    assert (tmp_path / "rc1").read_text().strip() == "2", err1
    assert len(err1.splitlines()) == 1 and "not writable" in err1 and "Read-only file system" in err1, err1
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "err2").read_text()
    assert (tmp_path / "gen").read_text().startswith("def ")
    assert files_of(rd) == before


def cache_entries(root) -> list[Path]:
    "The finished entries of a cache (not the hidden .tmp-, .lock-, .corrupt- ones)."
    return [p for kind in ("tokenizers", "datasets") for p in (Path(root) / ".cache" / kind).glob("[!.]*")]


def test_a_data_preparation_killed_at_any_stage_leaves_nothing_half_done_and_a_rerun_gives_the_same_dataset(tmp_path):
    prepare = lambda rd, root: [BIN / "codex-data", "prepare", TINY, f"run.dir={rd}", f"run.root={root}", "--quiet"]
    ref = run(prepare(tmp_path / "ref", tmp_path / "refroot"))
    assert ref.returncode == 0, ref.stderr
    want = json.loads((tmp_path / "ref" / "data" / "manifest.json").read_text())
    root = tmp_path / "root"
    stages_hit = set()
    # kill as soon as each stage has begun: tokenizer training, shard encoding, copying into the run folder
    for i, (stage, probe) in enumerate([("tokenizer", lambda: list((root / ".cache" / "tokenizers").glob(".tmp-*"))),
                                        ("shards", lambda: list((root / ".cache" / "datasets").glob(".tmp-*"))),
                                        ("run folder", lambda: (tmp_path / "k2" / "tokenizer").exists()),
                                        ("early", lambda: True)]):
        p = subprocess.Popen([str(a) for a in prepare(tmp_path / f"k{i}", root)], env={**os.environ, **TEST_ENV},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        while p.poll() is None and time.monotonic() - t0 < 120:
            if probe():
                p.send_signal(signal.SIGKILL); stages_hit.add(stage); break
            time.sleep(0.001)
        p.wait()
        for entry in cache_entries(root): assert sums_problem(entry) is None, (stage, entry)  # never a half-built entry in place
        m = tmp_path / f"k{i}" / "data" / "manifest.json"
        if m.exists(): json.loads(m.read_text())  # written atomically: whole or absent
    assert {"tokenizer", "early"} <= stages_hit, stages_hit  # at least the tokenizer build was cut short
    again = run(prepare(tmp_path / "again", root))
    assert again.returncode == 0, again.stderr
    got = json.loads((tmp_path / "again" / "data" / "manifest.json").read_text())
    assert got["content_hash"] == want["content_hash"]
    assert got["tokenizer"]["sha256"] == want["tokenizer"]["sha256"]
    assert got["shards"]["splits"] == want["shards"]["splits"]  # token counts and sha256 of every shard
    leftovers = [p.name for kind in ("tokenizers", "datasets") for p in (root / ".cache" / kind).glob(".tmp-*")]
    assert leftovers == []  # what the kills left was removed by the next build


def test_damaged_cache_files_are_rebuilt_with_a_warning_and_the_resumed_run_is_exact(tmp_path):
    root, rd = tmp_path / "cache", tmp_path / "run"
    assert train(rd, root, "training.max_steps=40", "checkpoint.every=20").returncode == 0
    want, want_losses = cut_back_to(rd, 20), last_losses(rd / "metrics.ndjson")  # as if killed after step 20's checkpoint
    manifest = json.loads((rd / "data" / "manifest.json").read_text())
    tok = Path(manifest["tokenizer"]["cache"]) / "tokenizer.json"
    tok.write_bytes(tok.read_bytes()[:1000])  # a corrupted tokenizer.json: cut short
    shard = Path(manifest["shards"]["dir"]) / "train.bin"
    with open(shard, "r+b") as f: f.truncate(shard.stat().st_size // 2)  # a truncated token shard
    r = train(rd, root, "training.max_steps=40", "checkpoint.every=20", "--resume-from", "auto")
    assert r.returncode == 0, r.stderr
    warned = [line for line in r.stderr.splitlines() if "is damaged" in line]
    assert len(warned) == 2 and "tokenizer.json" in warned[0] and "train.bin" in warned[1], r.stderr
    assert (rd / "checkpoints/step-00000040/model.safetensors").read_bytes() == want
    assert last_losses(rd / "metrics.ndjson") == want_losses
    for kind in ("tokenizers", "datasets"): assert len(list((root / ".cache" / kind).glob(".corrupt-*"))) == 1  # moved aside


def test_read_tokens_refuses_a_shard_cut_short_after_preparation(tmp_path):
    "The last line of defence, for a shard damaged after the cache check: training reads shards through read_tokens."
    rd, root = tmp_path / "run", tmp_path / "cache"
    assert run([BIN / "codex-data", "prepare", TINY, f"run.dir={rd}", f"run.root={root}", "--quiet"]).returncode == 0
    from codex_nb.data import read_tokens
    manifest = json.loads((rd / "data" / "manifest.json").read_text())
    info = manifest["shards"]["splits"]["train"]
    shard = Path(manifest["shards"]["dir"]) / info["file"]
    assert len(read_tokens(shard, info["dtype"], info["tokens"])) == info["tokens"]
    with open(shard, "r+b") as f: f.truncate(shard.stat().st_size - 2)
    from codex_nb.config import CodexError
    with pytest.raises(CodexError, match="truncated or changed"): read_tokens(shard, info["dtype"], info["tokens"])


def test_a_corrupted_tokenizer_json_gives_one_line_everywhere_and_a_given_tokenizers_copy_is_recovered(tmp_path):
    rd, root = tmp_path / "run", tmp_path / "cache"
    assert train(rd, root, "training.max_steps=10").returncode == 0
    bad = tmp_path / "bad"; bad.mkdir()
    (bad / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "BPE", "vocab": ')
    r = run([BIN / "codex-tokenizer", "encode", "--tokenizer", bad, "--text", "x = 1"])
    assert_usage_error(r, "codex-tokenizer", "not a valid tokenizer.json")
    # in a checkpoint: its SHA256SUMS catches it
    ck = rd / "checkpoints" / (rd / "checkpoints/LATEST").read_text().strip()
    good = (ck / "tokenizer.json").read_bytes()
    (ck / "tokenizer.json").write_bytes(good.replace(b'"<|endoftext|>"', b'"<|endoftexT|>"', 1))
    r = run([BIN / "codex-generate", "--checkpoint", rd, "--prompt", "def ", "--max-new-tokens", "3"])
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "tokenizer.json is corrupt (sha256 mismatch)" in r.stderr and r.stdout == ""
    (ck / "tokenizer.json").write_bytes(good)
    # a run on a given tokenizer (tokenizer.path) whose own copy was damaged resumes from a checkpoint's copy
    given = tmp_path / "given"
    shutil.copytree(rd / "tokenizer", given)
    ft = tmp_path / "ft"
    r = train(ft, root, f"tokenizer.path={given}", "training.max_steps=20", "checkpoint.every=10")
    assert r.returncode == 0, r.stderr
    want = cut_back_to(ft, 10)
    (ft / "tokenizer" / "tokenizer.json").write_text("garbage")
    shutil.rmtree(given)  # and the original is gone
    r = train(ft, root, f"tokenizer.path={given}", "training.max_steps=20", "checkpoint.every=10", "--resume-from", "auto")
    assert r.returncode == 0, r.stderr
    assert "changed since the run started; using the copy in" in r.stderr
    assert (ft / "checkpoints/step-00000020/model.safetensors").read_bytes() == want


def address_space_after_imports() -> int:
    "Bytes of address space a process holds once codex_nb's training modules are imported (VmPeak)."
    code = ("import codex_nb.cli, codex_nb.run, codex_nb.learner, codex_nb.checkpoint, torch, tokenizers; "
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak:')))")
    out = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, env={**os.environ, **TEST_ENV}, timeout=300)
    return int(out.stdout) * 1024


def test_an_out_of_memory_batch_size_names_the_largest_that_fits_and_that_one_trains(tmp_path):
    limit = address_space_after_imports() + (640 << 20)  # a tiny run's step at batch 8 fits in that; at batch 20000 it needs GBs
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    root = tmp_path / "cache"
    assert train(tmp_path / "warm", root, "training.max_steps=1").returncode == 0  # data prepared without the limit
    r = train(tmp_path / "big", root, "training.max_steps=3", "training.batch_size=20000", preexec_fn=cap)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("codex-train: error: out of memory at step 1 with training.batch_size=20000 on cpu"), lines[0]
    largest = int(re.search(r"the largest batch size that fits is (\d+)", lines[0]).group(1))
    b, a = map(int, re.search(r"set training\.batch_size=(\d+) training\.grad_accum=(\d+)", lines[0]).groups())
    assert 0 < b <= largest < 20000 and b * a == 20000, lines[0]
    assert not list((tmp_path / "big").glob("checkpoints/step-*"))
    ok = train(tmp_path / "fits", root, "training.max_steps=2", f"training.batch_size={largest}", "checkpoint.every=0",
               "training.eval_every=0", preexec_fn=cap)
    assert ok.returncode == 0, ok.stderr  # the measured size does train, under the same limit
    assert load_file(str(tmp_path / "fits" / "checkpoints" / "step-00000002" / "model.safetensors"))


def test_a_refused_resume_writes_nothing_so_the_next_resume_is_refused_too(tmp_path):
    "A resume refused because the corpus changed must not adopt the new corpus on the way out (manifest, tokenizer copy)."
    from codex_nb.data import stdlib_root
    corpus = tmp_path / "corpus"
    shutil.copytree(stdlib_root() / "email", corpus)
    rd, root = tmp_path / "run", tmp_path / "cache"
    r = train(rd, root, f"data.source={corpus}", "training.max_steps=4")
    assert r.returncode == 0, r.stderr
    before = files_of(rd)
    with open(corpus / "utils.py", "a") as f: f.write("\n# changed\n")
    for _ in range(2):
        r = train(rd, root, f"data.source={corpus}", "training.max_steps=8", "--resume-from", "auto")
        assert_usage_error(r, "codex-train", "the corpus changed since this run started")
        assert files_of(rd) == before
