"""The chapters of codex_nb in import order: each module, its notebook, its size, and the codex_nb modules it imports.

    python tools/import_graph.py          # the table and the graph, one line per module
    python tools/import_graph.py --check  # exit 1 naming every import of a later chapter (function bodies included)

A module's chapter is the number of the notebook it is exported from (`nbs/NN_name.ipynb`, read from the
header nbdev writes). Every import of another codex_nb module must name an earlier chapter, at the top of the
module or inside a function alike; only `cli` imports lazily, and it too only what came before it.
"""
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = re.compile(r"File to edit: \.\./nbs/(\d+)_(\w+)\.ipynb")

def chapter_of(path:Path) -> tuple[int, str]|None:
    "(chapter number, notebook name) of a module: from the header nbdev writes, else (a plain module such as `execution`) the notebook named after it."
    m = HEADER.search(path.read_text(encoding="utf-8")[:2000])
    if m: return int(m[1]), f"{m[1]}_{m[2]}"
    nbs = sorted((path.parent.parent / "nbs").glob(f"[0-9][0-9]_{path.stem}.ipynb"))
    return (int(nbs[0].name[:2]), nbs[0].stem) if nbs else None

def imports_of(source:str, package:str="codex_nb") -> list[tuple[str, int]]:
    "The codex_nb modules a module's source imports, anywhere in it (functions included), with their line numbers."
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1: names = [mod] if mod else [a.name for a in node.names]  # `from .x import y` / `from . import x`
            elif mod == package: names = [a.name for a in node.names]
            elif mod.startswith(package + "."): names = [mod.split(".")[1]]
            else: continue
            out += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[1], node.lineno) for a in node.names if a.name.startswith(package + ".")]
    return out

def modules(pkg:Path=ROOT / "codex_nb") -> dict[str, dict]:
    "Every exported module: chapter, notebook, lines, imports."
    mods = {}
    for p in sorted(pkg.glob("*.py")):
        ch = chapter_of(p)
        if ch is None: continue
        text = p.read_text(encoding="utf-8")
        mods[p.stem] = {"chapter": ch[0], "notebook": ch[1], "lines": len(text.splitlines()), "imports": imports_of(text)}
    return mods

def violations(mods:dict) -> list[str]:
    "Each import of the same or a later chapter (or of an unknown module), as one line."
    bad = []
    for name, m in mods.items():
        for dep, line in m["imports"]:
            if dep in ("__version__", name): continue
            if dep not in mods: bad.append(f"codex_nb/{name}.py:{line}: imports {dep}, which no chapter exports")
            elif mods[dep]["chapter"] >= m["chapter"]:
                bad.append(f"codex_nb/{name}.py:{line}: chapter {m['notebook']} imports {dep} of chapter {mods[dep]['notebook']} (not earlier)")
    return bad

def table(mods:dict) -> str:
    rows = [f"{m['notebook']:<18} codex_nb/{name + '.py':<18} {m['lines']:>5} lines  <- {', '.join(sorted({d for d, _ in m['imports']} - {'__version__', name})) or '-'}"
            for name, m in sorted(mods.items(), key=lambda kv: kv[1]["chapter"])]
    return "\n".join(rows)

if __name__ == "__main__":
    mods = modules()
    bad = violations(mods)
    if "--check" not in sys.argv: print(table(mods))
    for line in bad: print(line, file=sys.stderr)
    sys.exit(1 if bad else 0)
