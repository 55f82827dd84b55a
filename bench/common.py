"Shared helpers for the benchmarks: timing, peak memory of a child process, machine description."
import math
import os
import platform
import statistics
import resource
import subprocess
import sys
import time


def best_of(fn, repeats=3):
    "Smallest wall-clock time of `repeats` calls of `fn`, in seconds, and the last result."
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def child_peak_rss(code, env=None, as_limit_bytes=None):
    "Run python `code` in a fresh process; return (peak RSS in bytes or None if it failed, wall seconds, output tail)."
    code += "\nimport resource as _r; print('PEAK_RSS_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n"
    def limit():
        if as_limit_bytes: resource.setrlimit(resource.RLIMIT_AS, (as_limit_bytes, as_limit_bytes))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], env={**os.environ, **(env or {})}, preexec_fn=limit,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = [int(line.split()[1]) * 1024 for line in p.stdout.splitlines() if line.startswith("PEAK_RSS_KB")]
    return (peak[0] if peak and p.returncode == 0 else None), wall, (p.stdout + p.stderr)[-400:]


def machine() -> str:
    "One line describing this machine."
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"): cpu = line.split(":", 1)[1].strip(); break
    except OSError: pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}  # Student t, two-sided 95%


def mean_ci(xs) -> tuple[float, float, float]:
    "Mean, sample standard deviation and the half-width of the 95% confidence interval of the mean (Student t)."
    xs = list(xs)
    m = statistics.fmean(xs)
    if len(xs) < 2: return m, float("nan"), float("nan")
    s = statistics.stdev(xs)
    return m, s, T975.get(len(xs) - 1, 1.96) * s / math.sqrt(len(xs))


def probe(n:int=384, reps:int=40) -> float:
    "Seconds of a fixed fp32 matrix-product workload (best of 3): slower than usual means something else shares the cores."
    import torch
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps): a @ a
        best = min(best, time.perf_counter() - t0)
    return best
