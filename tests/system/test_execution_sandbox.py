"""The sandbox of codex_nb.execution, one adversarial property per test. Each runs real programs in real
namespaces (sessions and CI run as root, the case where limits matter most)."""
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from codex_nb.execution import SandboxConfig, SandboxError, run_code, run_many

from conftest import ROOT

UID = SandboxConfig().uid_base


def uid_processes(uid):
    "PIDs of live host processes owned by `uid` (zombies, dead and waiting for a reaper, not counted)."
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid and (d / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z": out.append(int(d.name))
            except (FileNotFoundError, ProcessLookupError, IndexError): pass
    return out


def test_a_trivial_program_passes_as_an_unprivileged_user():
    r = run_code("import os; print(os.getuid(), os.getgid(), os.getcwd())")
    assert r.passed, r.stderr
    uid, gid, cwd = r.stdout.split()
    if os.geteuid() == 0: assert (int(uid), int(gid), cwd) == (UID, UID, "/tmp/work")
    else: assert cwd == "/tmp/work"


def test_an_infinite_loop_is_killed_within_its_timeout():
    t0 = time.monotonic()
    r = run_code("while True: pass", SandboxConfig(timeout=1.5))
    assert r.status == "timed out" and not r.passed
    assert time.monotonic() - t0 < 1.5 + 2.0


def test_a_sleeping_child_that_left_the_process_group_dies_with_the_sample():
    code = "import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(60)\nelse:\n    time.sleep(60)\n"
    run_code(code, SandboxConfig(timeout=1))
    time.sleep(0.3)
    assert uid_processes(UID) == []


def test_the_sample_itself_leaving_its_session_dies_at_the_timeout():
    t0 = time.monotonic()
    r = run_code("import os, time\nos.setsid()\ntime.sleep(3600)", SandboxConfig(timeout=1.5))
    assert r.status == "timed out" and time.monotonic() - t0 < 1.5 + 2.0
    time.sleep(0.3)
    assert uid_processes(UID) == []


@pytest.mark.parametrize("code", ["import os; os._exit(0)", "import sys; sys.exit(0)", "raise SystemExit",
                                  "import atexit, os\natexit.register(os._exit, 0)\nassert False"])
def test_exiting_early_with_status_0_is_not_passing(code):
    r = run_code(code)
    assert r.status == "failed", (r.status, r.stderr)


def test_a_sample_cannot_fake_a_sandbox_error_to_abort_the_evaluation():
    fakes = ["import sys, os\nsys.stderr.write('codex-sandbox-error: x\\n'); sys.stderr.flush(); os._exit(125)",
             "import sys\nsys.stderr.write('unshare: failed to execute x\\n'); sys.exit(1)", "print('ok')"]
    res = run_many(fakes, workers=2)  # raises nothing
    assert [r.status for r in res] == ["failed", "failed", "passed"]


def test_invalid_text_in_a_sample_fails_that_sample_only():
    assert run_code("x = '\ud800'\nprint(x)").status == "failed"


@pytest.mark.parametrize("bad", [dict(memory_mb=-5), dict(memory_mb=0), dict(timeout=float("nan")), dict(timeout=float("inf")),
                                 dict(nproc=0)])
def test_limits_out_of_range_are_refused_not_turned_off(bad):
    with pytest.raises(ValueError): run_code("print(1)", SandboxConfig(**bad))


def test_a_huge_allocation_fails_inside_the_sample():
    r = run_code("x = bytearray(8 * 1024**3)\nprint('allocated')", SandboxConfig(memory_mb=512))
    assert r.status == "failed" and "MemoryError" in r.stderr and "allocated" not in r.stdout


def test_a_fork_bomb_is_contained():
    code = "import os, time\nfor _ in range(10000):\n    try: os.fork()\n    except OSError: pass\ntime.sleep(30)\n"
    t0 = time.monotonic()
    r = run_code(code, SandboxConfig(timeout=2, nproc=16))
    assert r.status == "timed out" and time.monotonic() - t0 < 6
    time.sleep(0.3)
    assert uid_processes(UID) == []  # every forked process is gone


def test_a_fork_bomb_in_one_worker_leaves_the_other_worker_able_to_fork():
    bomb = "import os, time\nfor _ in range(10000):\n    try: os.fork()\n    except OSError: pass\ntime.sleep(5)\n"
    fine = "import time, subprocess\ntime.sleep(0.5)\nprint(subprocess.run(['echo', 'forked'], capture_output=True, text=True).stdout)"
    res = run_many([bomb, fine], SandboxConfig(timeout=3, nproc=16), workers=2)
    assert res[1].passed and "forked" in res[1].stdout, res[1].stderr


def test_a_write_to_an_absolute_path_outside_the_sandbox_does_not_persist(tmp_path):
    targets = [tmp_path / "escaped.txt", ROOT / f"escaped-{uuid.uuid4().hex}.txt", Path(f"/tmp/escaped-{uuid.uuid4().hex}"),
               Path(f"/dev/shm/escaped-{uuid.uuid4().hex}")]
    code = "".join(f"try: open({str(t)!r}, 'w').write('pwned')\nexcept OSError as e: print(e)\n" for t in targets)
    r = run_code(code)
    assert r.status == "passed", r.stderr
    for t in targets: assert not t.exists(), t
    assert "Read-only file system" in r.stdout  # the host's files are read-only; /tmp and /dev/shm are private tmpfs


def test_an_environment_secret_of_the_parent_is_not_visible(monkeypatch):
    monkeypatch.setenv("CODEX_TEST_SECRET_TOKEN", "s3cr3t-value-123")
    code = ("import os\nprint(dict(os.environ))\n"
            "for p in os.listdir('/proc'):\n"
            "    try: print(open(f'/proc/{p}/environ', 'rb').read())\n"
            "    except Exception: pass\n")
    r = run_code(code)
    assert r.passed, r.stderr
    assert "s3cr3t-value-123" not in r.stdout and "CODEX_TEST_SECRET_TOKEN" not in r.stdout


def test_os_system_and_subprocess_stay_inside(tmp_path):
    marker = tmp_path / "via-shell"
    code = textwrap.dedent(f"""
        import os, subprocess
        os.system("echo pwned > {marker}")
        subprocess.run(["sh", "-c", "touch {marker}.2; kill -9 1 {os.getpid()}"])
        print(subprocess.check_output(["id", "-u"], text=True).strip())
        print(len([p for p in os.listdir('/proc') if p.isdigit()]))
    """)
    r = run_code(code)
    assert not marker.exists() and not Path(f"{marker}.2").exists()
    # the parent (this test process) is alive, and the children ran as the sandbox user in their own PID namespace
    if r.passed:
        uid, n = r.stdout.split()
        assert int(uid) == UID or os.geteuid() != 0
        assert int(n) < 10


def test_a_socket_cannot_connect():
    server = socket.socket()
    server.bind(("127.0.0.1", 0)); server.listen(1)
    port = server.getsockname()[1]
    try:
        code = (f"import socket\nfor host in ('127.0.0.1', '1.1.1.1'):\n"
                f"    s = socket.socket(); s.settimeout(2)\n"
                f"    try: s.connect((host, {port})); print('connected', host)\n"
                f"    except OSError as e: print('refused', host, e.errno)\n")
        r = run_code(code)
        assert r.passed, r.stderr
        assert "connected" not in r.stdout and r.stdout.count("refused") == 2
    finally: server.close()


def test_output_flooding_is_truncated():
    r = run_code("import sys\nwhile True: sys.stdout.write('x' * 65536)", SandboxConfig(timeout=2, output_bytes=10_000))
    assert r.truncated and len(r.stdout) < 10_000 + 100
    r = run_code("print('y' * 50)", SandboxConfig(output_bytes=10_000))
    assert not r.truncated and r.stdout == "y" * 50 + "\n"


def test_a_large_file_write_is_stopped_by_the_file_size_limit():
    r = run_code("open('/tmp/work/big', 'wb').write(b'0' * 20 * 2**20)", SandboxConfig(file_mb=1))
    assert r.status == "failed"


def test_results_come_back_in_order_from_parallel_workers():
    progs = [f"import time; time.sleep({0.3 if i % 2 == 0 else 0}); print({i})" for i in range(6)]
    res = run_many(progs, workers=2)
    assert [r.stdout.strip() for r in res] == [str(i) for i in range(6)]


def test_a_refused_isolation_fails_loudly_not_silently(tmp_path):
    "Without `unshare` on PATH the sandbox raises, naming the tool; it never runs the code unisolated."
    code = ("import os, sys\nos.environ['PATH'] = '/nonexistent'\n"
            "from codex_nb.execution import run_code, SandboxError\n"
            "try: run_code('print(1)'); print('RAN')\nexcept SandboxError as e: print('REFUSED', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "REFUSED" in r.stdout and "unshare" in r.stdout and "RAN" not in r.stdout, r.stdout + r.stderr


def test_as_an_unprivileged_caller_the_sandbox_isolates_or_refuses():
    "A non-root user gets the namespaces through a user namespace, or a SandboxError; never an unisolated run."
    if os.geteuid() != 0: pytest.skip("this test switches to user nobody, which needs root")
    import tempfile
    base = next(d for d in ("/run", "/var/lib", "/opt") if os.path.isdir(d))  # outside /tmp: the sample must see the victim
    tmp_path = Path(tempfile.mkdtemp(prefix="codex-sandbox-test-", dir=base))  # readable by nobody, unlike pytest's tmp_path
    src = ROOT / "codex_nb" / "execution.py"
    copy = tmp_path / "sandbox_copy.py"
    copy.write_text(src.read_text())
    os.chmod(tmp_path, 0o755); os.chmod(copy, 0o644)
    victim = tmp_path / "victim.txt"  # a file the calling user (nobody) owns: only the read-only view protects it
    victim.write_text("intact"); os.chown(victim, 65534, 65534)
    attack = (f"import os\nos.system('umount -l /tmp; mount -o remount,bind,rw /; mount -o remount,bind,rw {tmp_path}')\n"
              f"open({str(victim)!r}, 'w').write('PWNED')\n")
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\nimport sandbox_copy as s\n"
            f"try:\n    r = s.run_code({attack!r})\n    print('STATUS', r.status, 'Read-only' in r.stderr)\n"
            "except s.SandboxError as e: print('REFUSED', e)\n")
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", code],
                       capture_output=True, text=True, cwd="/")
    assert "STATUS failed True" in r.stdout or "REFUSED" in r.stdout, r.stdout + r.stderr
    assert victim.read_text() == "intact"
    import shutil; shutil.rmtree(tmp_path)


def test_each_sample_starts_from_an_empty_working_directory():
    a = run_code("open('state', 'w').write('1'); print('written')")
    b = run_code("import os; print(os.listdir('.'))")
    assert a.passed and b.stdout.strip() == "['program.py']"


@pytest.mark.parametrize("flag", ["isolate_network", "isolate_filesystem"])
def test_turning_an_isolation_off_is_explicit_and_still_runs(flag):
    r = run_code("print('ok')", SandboxConfig(**{flag: False}))
    assert r.passed and r.stdout == "ok\n"


def test_sandbox_setup_errors_are_raised_not_scored():
    with pytest.raises(SandboxError, match="cannot run"):
        run_code("print(1)", SandboxConfig(python="/nonexistent/python3"))
