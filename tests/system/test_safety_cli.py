"""`codex-safety scan|redact` keep the command-line contract; `codex-generate` applies the policy to prompts and
generations (a block exits 1 with nothing on stdout); logs, configs and env.json never carry a secret; the
repository itself passes its own pre-commit secrets scan. Secrets are generated at run time (never real)."""
import json
import random
import re
import string
import subprocess
import sys

import pytest
import yaml

from conftest import BIN, ROOT, assert_usage_error, run

SAFETY, GEN, TINY = BIN / "codex-safety", BIN / "codex-generate", ROOT / "configs" / "tiny.yaml"
R = random.Random(3)
def rs(chars, n): return "".join(R.choice(chars) for _ in range(n))
AWS = "AKIA" + rs(string.ascii_uppercase + "234567", 16)
GH = "ghp_" + rs(string.ascii_letters + string.digits, 36)


def tree(tmp):
    (tmp / "src" / "pkg").mkdir(parents=True)
    (tmp / "src" / "pkg" / "a.py").write_text(f"x = 1\nKEY = '{AWS}'\n# mail jane.doe@acme-robotics.com\n")
    (tmp / "src" / "pkg" / "b.py").write_text("def f():\n    return 2\n")
    (tmp / "src" / "pkg" / "c.cfg").write_text(f"[ci]\ntoken = {GH}  # codex-safety: allow (a fixture)\n")
    (tmp / "src" / "blob.bin").write_bytes(b"\0\1\2" + AWS.encode())
    return tmp / "src"


def test_scan_prints_file_line_kind_and_exits_1_when_something_is_found(tmp_path):
    src = tree(tmp_path)
    r = run([SAFETY, "scan", src])
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [f"{src}/pkg/a.py:2:aws_access_key", f"{src}/pkg/a.py:3:email"]
    assert AWS not in r.stdout + r.stderr and "1 binary skipped" in r.stderr
    secrets_only = run([SAFETY, "scan", src / "pkg" / "a.py", "--no-pii", "--workers", "1"])
    assert secrets_only.stdout.splitlines() == [f"{src}/pkg/a.py:2:aws_access_key"]
    clean = run([SAFETY, "scan", src / "pkg" / "b.py", src / "pkg" / "c.cfg"])
    assert (clean.returncode, clean.stdout) == (0, "")


def test_redact_writes_clean_copies_and_never_touches_the_originals(tmp_path):
    src = tree(tmp_path)
    before = (src / "pkg" / "a.py").read_bytes()
    r = run([SAFETY, "redact", src, "--out", tmp_path / "clean"])
    assert r.returncode == 0, r.stderr
    assert (src / "pkg" / "a.py").read_bytes() == before
    assert (tmp_path / "clean" / "pkg" / "a.py").read_text() == "x = 1\nKEY = '<SECRET:aws_access_key>'\n# mail <PII:email>\n"
    assert (tmp_path / "clean" / "blob.bin").read_bytes() == (src / "blob.bin").read_bytes()
    assert run([SAFETY, "scan", tmp_path / "clean" / "pkg"]).returncode == 0
    assert_usage_error(run([SAFETY, "redact", src, "--out", tmp_path / "clean"]), "codex-safety", "not an empty folder")
    assert_usage_error(run([SAFETY, "redact", src, "--out", src / "out"]), "codex-safety", "inside")
    assert not (src / "out").exists()


@pytest.mark.parametrize("args, needle", [(["scan"], "arguments are required"), (["scan", "/no/such/path"], "no such file"),
                                          (["scan", ".", "--workers", "-1"], "--workers"), (["wipe", "."], "invalid choice")])
def test_bad_safety_arguments_exit_2(args, needle):
    assert_usage_error(run([SAFETY, *args]), "codex-safety", needle)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safe-gen")
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp / 'run'}", f"run.root={tmp / 'runs'}", "training.max_steps=30",
             "checkpoint.every=0", "--quiet"], cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp / "run"


def gen(run_dir, prompt, *extra):
    return run([GEN, "--checkpoint", run_dir, "--prompt", prompt, "--temperature", "0", "--max-new-tokens", "16", *extra])


def test_a_blocked_prompt_exits_1_with_the_reason_and_nothing_on_stdout(trained):
    r = gen(trained, f"key = '{AWS}'\n", "--safety", "prompts=block")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    assert "aws_access_key (line 1)" in r.stderr and AWS not in r.stderr


def test_a_redacted_prompt_is_what_the_model_sees_and_what_stdout_shows(trained):
    r = gen(trained, f"key = '{AWS}'\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("key = '<SECRET:aws_access_key>'\n") and AWS not in r.stdout
    assert "the prompt was redacted: 1 aws_access_key" in r.stderr


def test_a_blocked_generation_exits_1_and_prints_nothing(trained):
    plain = gen(trained, "def ")
    assert plain.returncode == 0 and len(plain.stdout) > 4, plain.stderr  # a non-empty completion: the pattern '.' matches it
    for extra in ([], ["--stream"]):
        r = gen(trained, "def ", "--safety", "dangerous_deny=['.']", *extra)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr
        assert "blocked by safety.dangerous_code=block" in r.stderr
    warned = gen(trained, "def ", "--safety", "dangerous_deny=['.']", "dangerous_code=warn")
    assert warned.returncode == 0 and warned.stdout == plain.stdout and "warning" in warned.stderr


def test_stream_under_a_blocking_policy_holds_the_text_and_says_so(trained):
    plain, streamed = gen(trained, "def "), gen(trained, "def ", "--stream")
    assert streamed.returncode == 0 and streamed.stdout == plain.stdout
    assert "--stream holds the completion" in streamed.stderr


def test_a_secret_in_a_config_value_is_refused_without_being_printed(tmp_path):
    pw = "Pa55-" + rs(string.ascii_letters, 10)
    r = run([BIN / "codex-train", TINY, f"run.dir={tmp_path / 'r'}", f"tracking.uri=https://me:{pw}@mlflow.acme.io"], cwd=tmp_path)
    assert_usage_error(r, "codex-train", "tracking.uri holds a secret (url_credentials)", "MLFLOW_TRACKING_PASSWORD")
    assert pw not in r.stderr and not (tmp_path / "r").exists()


def test_logs_and_env_fingerprint_are_redacted(tmp_path):
    code = ("from codex_nb.monitoring import setup_logging; from codex_nb.repro import save_fingerprint; import sys;"
            f"setup_logging('INFO').warning('pushing with %s', {GH!r}); save_fingerprint(sys.argv[1])")
    r = run([sys.executable, "-c", code, tmp_path / "env.json"], env={"CODEX_NB_NOTE": f"deploy token {GH}"})
    assert r.returncode == 0, r.stderr
    assert "pushing with <SECRET:github_token>" in r.stderr and GH not in r.stderr
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["env"]["CODEX_NB_NOTE"] == "deploy token <SECRET:github_token>"


def test_repository_passes_its_own_pre_commit_secrets_scan():
    hook = next(h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"] for h in repo["hooks"] if h["id"] == "codex-safety")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in files if not re.search(hook["exclude"], f)]
    assert len(files) > 50
    r = run([BIN / hook["entry"].split()[0].split("/")[-1], *hook["entry"].split()[1:], *files])
    assert r.returncode == 0, r.stdout
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode == 0  # .env is never committed
    assert all(not line.split("=", 1)[1] for line in (ROOT / ".env.example").read_text().splitlines()
               if line.startswith("MLFLOW_TRACKING_"))


def _stream(pieces, prompt, *policy, stream=True):
    "Feed `pieces` of a completion through codex-generate's SafeStream; return (stdout, returned text)."
    import contextlib
    import io
    from codex_nb.run import SafeStream, safety_policy
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        s = SafeStream(safety_policy(ROOT, list(policy)), stream, prompt)  # ROOT has no meta.json: the schema's policy
        for p in pieces:
            if s.live: s.on_text(0, p)
        text = s.finish("".join(pieces))
    return out.getvalue(), text


@pytest.mark.parametrize("stream", [False, True])
def test_a_secret_split_between_prompt_and_completion_never_reaches_stdout(stream):
    prompt = "import os\nexport GITHUB_TOKEN=ghp_"
    shown, text = _stream([GH[4:20], GH[20:] + "\n", "echo done\n"], prompt, "dangerous_code=warn", stream=stream)
    assert GH[4:] not in shown + text and "<SECRET:github_token>" in text
    assert text == "import os\nexport GITHUB_TOKEN=<SECRET:github_token>\necho done\n"
    assert shown == (text if stream else "")


def test_dangerous_code_split_between_prompt_and_completion_is_blocked():
    from codex_nb.secrets import SafetyViolation
    with pytest.raises(SafetyViolation, match="recursive_delete"): _stream(["/')\n"], "import os\nos.system('rm -rf ", stream=False)
    shown, text = _stream(["print(1)\n"], "# never run rm -rf / here\n", stream=False)  # the prompt alone is not the model's doing
    assert text.endswith("print(1)\n")


def test_streamed_text_equals_the_held_text_when_context_comes_later():
    key = "".join(R.choice(string.ascii_letters + string.digits + "+/") for _ in range(86)) + "=="
    for pieces in ([f'k = "{key}"\n', "# azure storage\n"], ["# azure storage\n", f'k = "{key}"\n']):
        live, _ = _stream(pieces, "x = 1\n", "dangerous_code=warn")
        _, held = _stream(pieces, "x = 1\n", "dangerous_code=warn", stream=False)
        assert live == held
    assert key not in held and "<SECRET:azure_storage_key>" in held  # context before the key: found in both modes


def test_hidden_folders_are_scanned_and_exclude_leaves_out(tmp_path):
    (tmp_path / "home" / ".aws").mkdir(parents=True)
    (tmp_path / "home" / ".aws" / "credentials").write_text(f"[default]\naws_access_key_id = {AWS}\n")
    (tmp_path / "home" / ".git").mkdir()
    (tmp_path / "home" / ".git" / "config").write_text(f"token = {GH}\n")
    r = run([SAFETY, "scan", tmp_path / "home"])
    assert r.stdout.splitlines() == [f"{tmp_path}/home/.aws/credentials:2:aws_access_key"], r.stdout
    assert run([SAFETY, "scan", tmp_path / "home", "--exclude", ".aws"]).returncode == 0


def test_redact_keeps_file_modes(tmp_path):
    src = tmp_path / "run.sh"
    src.write_text(f"export TOKEN={GH}\n")
    src.chmod(0o755)
    assert run([SAFETY, "redact", src, "--out", tmp_path / "out"]).returncode == 0
    assert ((tmp_path / "out" / "run.sh").stat().st_mode & 0o777) == 0o755
