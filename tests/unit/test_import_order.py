"Chapters in import order: every codex_nb module imports only modules of earlier chapters (function bodies included), and documents itself."
import ast
import importlib.util
import sys

from conftest import ROOT, run

spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(graph)


def test_every_module_imports_only_earlier_chapters():
    mods = graph.modules()
    assert {"config", "io", "secrets", "registry", "data", "learner", "cli"} <= set(mods), sorted(mods)
    assert graph.violations(mods) == []
    chapters = [m["chapter"] for m in mods.values()]
    assert len(chapters) == len(set(chapters)), "two modules share a chapter number"


def test_the_check_sees_imports_inside_functions(tmp_path):
    "Negative control: a late import hidden in a function body, relative or absolute, is found and refused."
    src = "from .config import Config\n\ndef f():\n    from codex_nb.learner import Learner\n    import codex_nb.cli\n    from . import tracking\n"
    test_eq_imports = graph.imports_of(src)
    assert test_eq_imports == [("config", 1), ("learner", 4), ("cli", 5), ("tracking", 6)]
    mods = {"config": {"chapter": 0, "notebook": "00_config", "imports": []},
            "learner": {"chapter": 9, "notebook": "09_learner", "imports": []},
            "cli": {"chapter": 19, "notebook": "19_cli", "imports": []},
            "tracking": {"chapter": 15, "notebook": "15_tracking", "imports": []},
            "data": {"chapter": 6, "notebook": "06_data", "imports": test_eq_imports}}
    bad = graph.violations(mods)
    assert len(bad) == 3 and all("06_data imports" in b for b in bad), bad
    assert any("learner of chapter 09_learner" in b for b in bad)


def test_import_graph_command_prints_the_chapters_and_checks():
    r = run([sys.executable, ROOT / "tools" / "import_graph.py"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("00_config") and "codex_nb/config.py" in lines[0]
    assert run([sys.executable, ROOT / "tools" / "import_graph.py", "--check"]).returncode == 0


def test_every_module_has_a_docstring_listed_in_the_package():
    "nbdev lists a module in `codex_nb.__init__`'s docstring only when its own says more than a summary line."
    init_doc = ast.get_docstring(ast.parse((ROOT / "codex_nb" / "__init__.py").read_text()))
    for p in sorted((ROOT / "codex_nb").glob("*.py")):
        if p.name.startswith("_"): continue
        doc = ast.get_docstring(ast.parse(p.read_text()))
        assert doc and len(doc.strip().splitlines()) > 3, f"{p.name}: no substantive module docstring"
        assert f"- `codex_nb.{p.stem}`:" in init_doc, f"{p.name} is missing from codex_nb/__init__.py's module list"
