"""The lock (constraints.txt) is the tested set: it pins every requirement of pyproject.toml at a version its range allows,
the CPU torch included, and `tools/lock.py --check` names each difference between an environment and it."""
import importlib.util
import re
import tomllib

from packaging.requirements import Requirement

from conftest import ROOT

spec = importlib.util.spec_from_file_location("lock", ROOT / "tools" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


def test_every_requirement_is_pinned_in_its_range():
    pins = lock.read_lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]]
    assert len(reqs) > 30
    for r in reqs:
        v = pins.get(lock.norm(r.name))
        assert v is not None, f"{r.name} is not in constraints.txt: run make lock"
        assert r.specifier.contains(v, prereleases=True), f"{r.name}=={v} is outside {r.specifier}"
    assert pins["torch"].endswith("+cpu")  # the CPU wheel; the CUDA image drops this one line
    assert all(re.fullmatch(r"[a-z0-9-]+", n) and "@" not in v and " " not in v for n, v in pins.items())  # names and versions, no URLs


def test_differences_name_every_kind_of_drift():
    want = {"a": "1.0", "b": "2.0", "c": "3.0"}
    assert lock.differences(dict(want), want) == []  # the control: the same set has none
    have = {"a": "1.0", "b": "2.1", "d": "4.0"}
    assert lock.differences(have, want) == ["b: 2.1 installed, the lock has 2.0", "c: not installed, the lock has 3.0",
                                            "d: 4.0 installed, not in the lock"]
