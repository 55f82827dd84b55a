"""Run untrusted generated code: one fresh process per sample, in its own Linux namespaces, as an
unprivileged user, with rlimits, a wall-clock timeout that kills everything it started, and capped output.

A plain module (not exported from a notebook: it is mechanism, tested by tests/system/test_execution_sandbox.py);
nbs/12_execution.ipynb explains it and lists exactly what is and is not isolated.

How a sample runs (`run_code`):

1. The parent starts `unshare --mount --pid --fork --ipc --uts [--net] --kill-child` in a new session
   (as root; as another user, `--user --map-root-user` is added so that the kernel allows the rest).
2. Inside, a small launcher (`_LAUNCHER`) is PID 1 of the new PID namespace and root of the new mount
   namespace. It makes every mount read-only (a remount of each mount point of
   this namespace, which does not touch the host's view), mounts a fresh `/proc` for the new PID
   namespace and empty tmpfs file systems on `/tmp`, `/var/tmp` and `/dev/shm`, creates the working
   directory `/tmp/work` there, and writes the program into it.
3. It forks the sample's process, which sets the rlimits (CPU seconds, address space, file size,
   process count, open files, no core files), drops every capability and the bounding set, sets
   no_new_privs, takes an unprivileged uid/gid of its own (one uid per parallel worker, so that one
   sample's processes never count against another's limit), and starts a harness (`_HARNESS`) that
   `exec`s the program with an environment built from scratch (no inherited variables: no secrets).
   The harness tells PID 1 `completed <nonce>` only when the program ran to its end without raising;
   that, not the exit status, is what `passed` means.
4. PID 1 reaps orphans, reports on a status pipe the sample does not hold, and exits when the sample's
   main process ends; the kernel then kills every process left in the namespace. The parent reads the
   first `output_bytes` of stdout and the last of stderr (the rest is read and dropped), and kills the
   process group (unshare and PID 1) at the timeout, with the same effect.

Anything the launcher cannot set up (a mount refused, a uid that cannot be taken) is an error of the
sandbox, raised as `SandboxError` with the reason, never reported as a failing sample and never
silently skipped.

Docs: https://codex-nb.github.io/codex-nb/execution.html.md
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

__all__ = ["SandboxConfig", "SandboxError", "ExecResult", "run_code", "run_many", "check_sandbox", "check_config",
           "isolation_report", "default_python"]


class SandboxError(RuntimeError):
    "The sandbox could not be set up as configured (an isolation refused by the OS, a missing tool)."
    exit_code = 1


@dataclass
class SandboxConfig:
    "Limits and isolation of one sample's process."
    timeout: float = 10.0  # wall-clock seconds per sample; then the whole process tree is killed
    memory_mb: int = 1024  # address-space limit (RLIMIT_AS) of the sample's processes
    cpu_s: int | None = None  # CPU seconds (RLIMIT_CPU); None: the timeout rounded up, plus one
    file_mb: int = 16  # largest file the sample may write (RLIMIT_FSIZE)
    nproc: int = 16  # processes of the sample's uid (RLIMIT_NPROC): what contains a fork bomb
    nofile: int = 64  # open file descriptors (RLIMIT_NOFILE)
    output_bytes: int = 64 * 1024  # stdout and stderr kept, each; the rest is dropped and marked
    tmp_mb: int = 64  # size of each private tmpfs (/tmp with the working directory, /var/tmp, /dev/shm)
    isolate_filesystem: bool = True  # everything read-only but private tmpfs; False: a host temp dir as cwd
    isolate_network: bool = True  # a network namespace with no interface up: no socket connects
    drop_privileges: bool = True  # run as an unprivileged uid (needed as root: root ignores RLIMIT_NPROC)
    uid_base: int = field(default_factory=lambda: 100_000 + (os.getpid() % 100_000) * 64)  # worker i runs as uid/gid uid_base + i: ids no account uses, so they own no files; per process, so that concurrent evaluations never share a process-count limit
    python: str = field(default_factory=lambda: default_python())  # interpreter of the samples; must be executable by any user


@dataclass
class ExecResult:
    "What happened to one program."
    status: str  # `passed` (ran to its end without raising), `failed` or `timed out`
    returncode: int | None
    stdout: str
    stderr: str
    duration: float  # wall-clock seconds
    truncated: bool = False  # output beyond output_bytes was dropped

    @property
    def passed(self) -> bool: return self.status == "passed"


# Runs as PID 1 of the new namespaces, as root there. argv[1]: the JSON spec; argv[2]: the write end of the status
# pipe (the sample never holds it: it is close-on-exec); stdin: the program. It reports on the status pipe:
# "L" (namespaces exist), "E <reason>" (set-up failed), "R <exit code> <1 if the program ran to its end>".
_LAUNCHER = r"""
import ctypes, json, os, resource, sys
spec, status = json.loads(sys.argv[1]), int(sys.argv[2])
os.set_inheritable(status, False)
code = sys.stdin.buffer.read()
def say(msg): os.write(status, (msg + "\n").encode())
def fail(msg):
    try: say("E " + msg)
    finally: os._exit(125)
say("L")
libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
KEEP = 2 | 4 | 8 | 1024 | 2048 | 4096  # nosuid nodev noexec noatime nodiratime relatime: locked flags must be kept
def mount(src, target, fstype, flags, data=None):
    b = lambda s: None if s is None else s.encode()
    if libc.mount(b(src), b(target), b(fstype), flags, b(data)) != 0: return os.strerror(ctypes.get_errno())
workdir = spec["workdir"]
if spec["filesystem"]:
    err = mount(None, "/", None, MS_REC | MS_PRIVATE)
    if err: fail("making mounts private: " + err)
    points = []
    for line in open("/proc/self/mountinfo"):
        mp = line.split()[4].replace("\\040", " ")
        if mp not in points: points.append(mp)
    for mp in sorted(points, key=lambda p: p.count("/")):
        try: flags = os.statvfs(mp).f_flag & KEEP
        except OSError: continue  # hidden under another mount: not reachable from here either
        err = mount(None, mp, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        if err: fail("read-only remount of " + mp + ": " + err)
    err = mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if err: fail("mounting /proc for the new PID namespace: " + err)
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(d):
            err = mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "size=%dm,mode=1777" % spec["tmp_mb"])
            if err: fail("tmpfs on " + d + ": " + err)
    os.makedirs(workdir, exist_ok=True)
prog = os.path.join(workdir, "program.py")
with open(prog, "wb") as f: f.write(code)
uid = spec["uid"]
if uid is not None: os.chown(workdir, uid, uid); os.chown(prog, uid, uid)
nonce_r, nonce_w = os.pipe()
result_r, result_w = os.pipe()
child = os.fork()
if child == 0:
    try:
        os.close(nonce_w); os.close(result_r)
        os.set_inheritable(nonce_r, True); os.set_inheritable(result_w, True)
        os.chdir(workdir)
        for name, value in spec["limits"].items():
            try: resource.setrlimit(getattr(resource, name), (value, value if name != "RLIMIT_CPU" else value + 1))
            except (ValueError, OSError) as e: fail("setrlimit " + name + ": " + str(e))
        for cap in range(64): libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP: no capability can come back at exec
        if libc.prctl(38, 1, 0, 0, 0) != 0: fail("no_new_privs: " + os.strerror(ctypes.get_errno()))
        if uid is not None:
            os.setgroups([]); os.setgid(uid); os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid: fail("still uid %d after setuid(%d)" % (os.geteuid(), uid))
        class Hdr(ctypes.Structure): _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
        class Data(ctypes.Structure): _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
        if libc.capset(ctypes.byref(Hdr(0x20080522, 0)), (Data * 2)()) != 0: fail("dropping capabilities: " + os.strerror(ctypes.get_errno()))
        caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
        if any(int(c, 16) for c in caps): fail("capabilities left after dropping them: " + " ".join(caps))
        os.execve(spec["python"], [spec["python"], "-I", "-c", spec["harness"], str(nonce_r), str(result_w), prog], spec["env"])
    except SystemExit: raise
    except BaseException as e: fail("starting the program as the sandbox user: %s: %s" % (type(e).__name__, e))
os.close(nonce_r); os.close(result_w)
nonce = os.urandom(16).hex()
os.write(nonce_w, nonce.encode()); os.close(nonce_w)
while True:  # PID 1 reaps every orphan until the program itself ends
    pid, st = os.wait()
    if pid == child: break
os.set_blocking(result_r, False)
got = b""
try:
    while len(got) < 200:
        chunk = os.read(result_r, 200)
        if not chunk: break
        got += chunk
except BlockingIOError: pass
say("R %d %d" % (os.waitstatus_to_exitcode(st), int(got == ("completed " + nonce).encode())))
os._exit(0)  # PID 1 ends: the kernel kills whatever the program left behind
"""

# Runs the program as the sandbox user: `completed <nonce>` reaches the launcher only when the program ran to its end
# without raising (SystemExit included); os._exit, a kill or a crash never write it.
_HARNESS = r"""
import os, sys
def _run():
    nonce_fd, result_fd, prog = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    nonce = os.read(nonce_fd, 64); os.close(nonce_fd)
    sys.argv = [prog]
    with open(prog, "rb") as f: src = f.read()
    g = {"__name__": "__main__", "__file__": prog, "__builtins__": __builtins__}
    try: exec(compile(src, prog, "exec"), g)
    except BaseException:
        import traceback; traceback.print_exc(); sys.stderr.flush()
        os.close(result_fd); return 1
    sys.stdout.flush(); sys.stderr.flush()
    os.write(result_fd, b"completed " + nonce); os.close(result_fd)
    return 0
sys.exit(_run())
"""


def _others_can_run(path: str) -> bool:
    "Whether a user with no rights of its own can execute `path` (every folder on the way searchable)."
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    for i in range(2, len(parts)):
        if not os.stat(os.sep.join(parts[:i]) or "/").st_mode & 0o001: return False
    return bool(os.stat(real).st_mode & 0o001)


def default_python() -> str:
    "This interpreter when any user may run it; else the system's python3 (a venv under a private home is not)."
    for cand in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if cand and _others_can_run(cand): return cand
    raise SandboxError(f"no Python that an unprivileged user can run: {sys.executable} lives in a private folder and there is "
                       "no system python3; set SandboxConfig.python to one")


def _limits(cfg: SandboxConfig) -> dict:
    cpu = cfg.cpu_s if cfg.cpu_s is not None else math.ceil(cfg.timeout) + 1
    return {"RLIMIT_CPU": int(cpu), "RLIMIT_AS": cfg.memory_mb * 2**20, "RLIMIT_FSIZE": cfg.file_mb * 2**20,
            "RLIMIT_NPROC": cfg.nproc, "RLIMIT_NOFILE": cfg.nofile, "RLIMIT_CORE": 0}


def check_config(cfg: SandboxConfig):
    "Raise `ValueError` naming the first limit that is out of range (a negative limit would mean no limit at all)."
    if not (math.isfinite(cfg.timeout) and cfg.timeout > 0): raise ValueError(f"timeout must be a positive number of seconds, got {cfg.timeout}")
    for name, low in (("memory_mb", 32), ("file_mb", 1), ("nproc", 1), ("nofile", 16), ("output_bytes", 1), ("tmp_mb", 1)):
        v = getattr(cfg, name)
        if not isinstance(v, int) or v < low: raise ValueError(f"{name} must be an integer of at least {low}, got {v!r}")
    if cfg.cpu_s is not None and cfg.cpu_s < 1: raise ValueError(f"cpu_s must be at least 1, got {cfg.cpu_s}")


def _command(cfg: SandboxConfig, slot: int, workdir: str, status_fd: int) -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SandboxError("the sandbox needs util-linux's `unshare` command, which is not on PATH: install util-linux "
                           "(apt-get install util-linux)")
    ns = ["--mount", "--pid", "--fork", "--ipc", "--uts", "--kill-child"]
    if cfg.isolate_network: ns.append("--net")
    root = os.geteuid() == 0
    if not root: ns = ["--user", "--map-root-user", *ns]  # an unprivileged caller: namespaces through a user namespace
    uid = cfg.uid_base + slot if (cfg.drop_privileges and root) else None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": workdir,
           "TMPDIR": "/tmp" if cfg.isolate_filesystem else workdir, "PYTHONDONTWRITEBYTECODE": "1"}
    spec = {"filesystem": cfg.isolate_filesystem, "workdir": workdir, "tmp_mb": cfg.tmp_mb, "uid": uid,
            "limits": _limits(cfg), "python": cfg.python, "env": env, "harness": _HARNESS}
    return [unshare, *ns, "--", cfg.python, "-I", "-S", "-c", _LAUNCHER, json.dumps(spec), str(status_fd)]


def _reader(stream, cap: int, out: list, flags: dict, key: str, tail: bool = False):
    "Keep the first (or, with `tail`, the last) `cap` bytes of `stream`; read and drop the rest, so the writer never blocks."
    kept, total = bytearray(), 0
    while True:
        chunk = stream.read(65536)
        if not chunk: break
        total += len(chunk)
        if tail: kept = (kept + chunk)[-cap:]
        elif len(kept) < cap: kept += chunk[:cap - len(kept)]
    if total > cap: flags[key] = True
    out.append(bytes(kept))


def run_code(code: str, cfg: SandboxConfig | None = None, slot: int = 0) -> ExecResult:
    "Run the Python program `code` in the sandbox; `slot` picks the worker's uid. `passed` means it ran to its end."
    cfg = cfg or SandboxConfig()
    check_config(cfg)
    host_tmp = None if cfg.isolate_filesystem else tempfile.mkdtemp(prefix="codex-sandbox-")
    if host_tmp:
        os.chmod(host_tmp, 0o755)
        if cfg.drop_privileges and os.geteuid() == 0: os.chown(host_tmp, cfg.uid_base + slot, cfg.uid_base + slot)
    workdir = "/tmp/work" if cfg.isolate_filesystem else host_tmp
    status_r, status_w = os.pipe()
    t0 = time.perf_counter()
    try:
        try:
            p = subprocess.Popen(_command(cfg, slot, workdir, status_w), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True, pass_fds=(status_w,),
                                 env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        finally: os.close(status_w)
        outs, errs, stat, flags = [], [], [], {}
        threads = [threading.Thread(target=_reader, args=(p.stdout, cfg.output_bytes, outs, flags, "out"), daemon=True),
                   threading.Thread(target=_reader, args=(p.stderr, cfg.output_bytes, errs, flags, "err", True), daemon=True),
                   threading.Thread(target=_reader, args=(os.fdopen(status_r, "rb", buffering=0), 65536, stat, {}, "st"), daemon=True)]
        for t in threads: t.start()
        try:
            p.stdin.write(code.encode("utf-8", "surrogatepass")); p.stdin.close()  # a lone surrogate: a SyntaxError inside, not here
        except BrokenPipeError: pass
        timed_out = False
        try: p.wait(timeout=cfg.timeout)
        except subprocess.TimeoutExpired: timed_out = True
        _kill_group(p)
        for t in threads: t.join(timeout=5)
        duration = time.perf_counter() - t0
    finally:
        if host_tmp: shutil.rmtree(host_tmp, ignore_errors=True)
    stdout = (outs[0] if outs else b"").decode("utf-8", "replace")
    stderr = (errs[0] if errs else b"").decode("utf-8", "replace")
    lines = (stat[0] if stat else b"").decode("utf-8", "replace").splitlines()
    errors = [l[2:] for l in lines if l.startswith("E ")]
    if errors: raise SandboxError(f"the sandbox could not be set up ({errors[0]}); run as root, or enable unprivileged user "
                                  "namespaces (sysctl kernel.unprivileged_userns_clone=1), or turn off the isolation you cannot "
                                  "have in the sandbox config and accept what that exposes")
    if not lines and not timed_out:
        first = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {p.returncode}"
        if "failed to execute" in first: raise SandboxError(f"the sandbox cannot run its interpreter: {first}; set SandboxConfig.python")
        raise SandboxError(f"the OS refused the sandbox's namespaces: {first}; run as root, or enable unprivileged user "
                           "namespaces (sysctl kernel.unprivileged_userns_clone=1)")
    result = next((l.split() for l in lines if l.startswith("R ")), None)
    if flags.get("out"): stdout += "\n[output truncated]"
    if timed_out and result is None: status, rc = "timed out", None
    elif result is None: status, rc = "failed", None  # the launcher died (killed from inside, out of memory)
    else: status, rc = ("passed" if result[2] == "1" else "failed"), int(result[1])
    return ExecResult(status, rc, stdout, stderr, duration, bool(flags))


def _kill_group(p: subprocess.Popen):
    "SIGKILL the process group of `p` (unshare and the namespace's PID 1: the kernel then kills the rest)."
    try: os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError): pass
    try: p.wait(timeout=5)
    except subprocess.TimeoutExpired: pass


def run_many(programs: list[str], cfg: SandboxConfig | None = None, workers: int = 2, progress: bool = False) -> list[ExecResult]:
    "Run each program in its own sandbox, `workers` at a time (each worker with its own uid); results in order."
    cfg = cfg or SandboxConfig()
    slots = list(range(workers))
    lock = threading.Lock()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(programs), desc="executing", unit=" programs")
    def one(code):
        with lock: slot = slots.pop()
        try: return run_code(code, cfg, slot)
        finally:
            with lock:
                slots.append(slot)
                if bar: bar.update(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as ex: return list(ex.map(one, programs))
    finally:
        if bar: bar.close()


def check_sandbox(cfg: SandboxConfig | None = None) -> ExecResult:
    "Run a trivial program: raises `SandboxError` now, naming the reason, when the OS refuses an isolation."
    res = run_code("print('ok')", cfg or SandboxConfig())
    if not res.passed or res.stdout.strip() != "ok":
        raise SandboxError(f"the sandbox cannot run a trivial program: {res.status}, {res.stderr.strip()[-300:]}")
    return res


def isolation_report(cfg: SandboxConfig | None = None) -> dict:
    "What the sandbox isolates under `cfg`, for reports."
    cfg = cfg or SandboxConfig()
    d = asdict(cfg)
    v = subprocess.run([cfg.python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    d["python"] = f"{cfg.python} {v.stdout.strip()}"  # the samples' interpreter: what they can import depends on it
    d["namespaces"] = ["mount", "pid", "ipc", "uts"] + (["net"] if cfg.isolate_network else []) + ([] if os.geteuid() == 0 else ["user"])
    return d
