"""Build the documentation site from the notebooks in nbs/ (`make docs`).

With Quarto on PATH this is nbdev's own route: `nbdev-docs`, into `_docs/`. Quarto cannot be installed on
every machine, so without it (or with `--offline`) the same pages are built with nbdev and nbconvert only:

1. nbdev's documentation processors (those `nbdev-proc-nbs` applies: front matter from the `# title`,
   hidden and exported cells dropped, `show_doc` cells added and rendered) process every notebook into a
   temporary folder, `--workers` notebooks at a time (`nbdev-proc-nbs` itself always writes `_proc/` and
   first tries to install Quarto). nbdev re-runs the exported cells and every cell that imports, so that
   `show_doc` finds its names; the other cells keep their saved outputs (plots, printed results). A cell
   that mixes imports with other code would be re-run without its context, under Quarto too: it fails the
   build, naming the notebook.
2. The Quarto cell options nbdev leaves in the cells (`#| echo: false`, `#| include: false`, ...) become
   nbconvert's cell tags, and nbconvert's HTMLExporter turns each notebook into HTML (plots inline as PNG).
3. Each page gets a sidebar listing every page (Home, Tutorials, API modules, Experiments, Benchmarks), with
   relative links, so the site opens from file:// as well as from a web server.

    .venv/bin/python tools/docs.py [--out DIR] [--offline] [--workers N]
"""
import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = ".codex-nb-docs"  # written into an offline build; only such a folder (or an empty one) is replaced
GROUPS = ["Home", "Tutorials", "API modules", "Experiments", "Benchmarks"]
CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}


def notebooks(nbs: Path) -> list[Path]:
    "Every notebook under `nbs`, skipping names that start with `_` or `.` (nbdev's default), in file-name order."
    return sorted(p for p in nbs.rglob("*.ipynb") if not any(part[0] in "_." for part in p.relative_to(nbs).parts))


# ---- step 1: nbdev's processing (runs in worker processes) ----

def _process(item):
    "Process notebook `src` with nbdev's doc processors (as `nbdev-proc-nbs`) into `dst`; return (src, error)."
    src, dst = item
    from fastcore.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults

    os.environ["IN_TEST"] = "1"  # as nbdev-proc-nbs: notebooks may skip work when building docs
    os.chdir(src.parent)  # relative paths in the notebook's cells mean what they mean under nbdev-test
    try:
        nb = read_nb(src)
        with warnings.catch_warnings():
            # nbdev re-runs every cell that imports, without the cells before it: a cell mixing imports with other code
            # fails or loses its saved outputs under Quarto's nbdev-docs too, so it is an error here.
            warnings.filterwarnings("error", message="Found cells containing imports")
            FilterDefaults()(nb)
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_nb(nb, dst)
        return src, None
    except Warning as w:
        return src, f"a cell mixes imports with other code (nbdev re-runs it for the docs): give its imports a cell of their own\n{w}"
    except Exception as e:  # reported per notebook; the build goes on and exits 1
        return src, f"{type(e).__name__}: {e}"


# ---- steps 2 and 3: nbconvert and the site ----

def _front_matter(nb) -> dict:
    import yaml
    for c in nb["cells"]:
        s = c["source"].strip()
        if c["cell_type"] == "raw" and s.startswith("---") and s.endswith("---"): return yaml.safe_load(s.strip("-")) or {}
    return {}


def _group(rel: Path) -> str:
    if len(rel.parts) > 1: return {"tutorials": "Tutorials", "experiments": "Experiments"}.get(rel.parts[0], rel.parts[0].title())
    return {"index": "Home", "benchmarks": "Benchmarks"}.get(rel.stem, "API modules")


def _to_nbformat(nb):
    "The processed notebook as an nbformat node: front matter out, Quarto cell options as nbconvert tags, extra fields dropped."
    import nbformat
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] == "raw" and c["source"].lstrip().startswith("---"): continue  # front matter: the page header shows it
        tags = set(c.get("metadata", {}).get("tags", []))
        if c["cell_type"] == "code":
            d = c.directives
            if d.get("include") == "false": continue
            if d.get("echo") == "false": tags.add("remove_input")
            if d.get("output") == "false": tags.add("remove_output")
            if c.get("has_sd") or re.search(r"^show_doc\(", c.source, re.M): tags.add("showdoc")  # nbconvert: class celltag_showdoc
            c.remove_directives()
        cell = {k: v for k, v in c.items() if k in CELL_KEYS}
        cell["metadata"] = {k: v for k, v in c.get("metadata", {}).items() if k != "execution"}
        if tags: cell["metadata"]["tags"] = sorted(tags)
        cells.append(cell)
    meta = {k: v for k, v in nb.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    meta.setdefault("language_info", {"name": "python"})
    return nbformat.from_dict({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    ex = HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    ex.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove_cell"}, remove_input_tags={"remove_input"},
                                                   remove_all_outputs_tags={"remove_output"}), enabled=True)
    return ex


def _rel(target: str, page: str) -> str:
    return os.path.relpath(target, os.path.dirname(page) or ".").replace(os.sep, "/")


def _sidebar(pages: list[dict], here: str, site: str) -> str:
    out = [f'<nav id="sidebar"><a class="site-title" href="{_rel("index.html", here)}">{html.escape(site)}</a>']
    for g in GROUPS + sorted({p["group"] for p in pages} - set(GROUPS)):
        items = [p for p in pages if p["group"] == g]
        if not items: continue
        out.append(f'<div class="group"><h2>{html.escape(g)}</h2><ul>')
        for p in items:
            cur = ' class="active" aria-current="page"' if p["out"] == here else ""
            out.append(f'<li><a{cur} href="{_rel(p["out"], here)}">{html.escape(p["title"])}</a></li>')
        out.append("</ul></div>")
    return "\n".join(out + ["</nav>"])


def _fix_links(body: str, page: dict, by_src: dict, site_url: str = "") -> str:
    "Links to notebooks (`x.ipynb`, as Quarto allows) and nbdev's absolute links into the published site point at the pages here."
    if site_url:  # nbdev links `module.name` in backticks to <doc_host><doc_baseurl>/page.html#name
        root = _rel(".", page["out"]) + "/" if "/" in page["out"] else ""
        body = body.replace(f'href="{site_url.rstrip("/")}/', f'href="{root}')
    def sub(m):
        target = os.path.normpath(os.path.join(os.path.dirname(page["src"]), m[2])).replace(os.sep, "/")
        if target in by_src: return f'{m[1]}"{_rel(by_src[target], page["out"])}{m[3] or ""}"'
        print(f"docs: warning: {page['src']} links to {m[2]}, which is no notebook of the site", file=sys.stderr)
        return m[0]
    return re.sub(r'(href=)"(?!\w+:)([^"#]+\.ipynb)(#[^"]*)?"', sub, body)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {site}</title>
<link rel="stylesheet" href="{root}site.css">{styles}
</head><body>
{sidebar}
<main id="content">
<header id="title-block-header"><h1 class="title">{title}</h1>{description}</header>
{body}
</main></body></html>
"""

CSS = """body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
#sidebar { position: fixed; top: 0; bottom: 0; left: 0; width: 15rem; overflow-y: auto; padding: 1rem;
  background: #f6f7f9; border-right: 1px solid #ddd; box-sizing: border-box; font-size: 0.92rem; }
#sidebar .site-title { display: block; font-weight: 700; font-size: 1.2rem; margin-bottom: 0.8rem; color: #222; text-decoration: none; }
#sidebar h2 { font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.05em; color: #666; margin: 1rem 0 0.3rem; }
#sidebar ul { list-style: none; margin: 0; padding: 0; }
#sidebar li a { display: block; padding: 0.12rem 0.4rem; border-radius: 4px; color: #1a5fb4; text-decoration: none; }
#sidebar li a:hover { background: #e8ecf2; }
#sidebar li a.active { background: #1a5fb4; color: #fff; }
#content { margin-left: 15rem; padding: 1.5rem 2.5rem 4rem; max-width: 60rem; }
h1.title { margin-top: 0; }
#title-block-header .description p { margin: 0 0 1.2rem; }
pre { background: #f6f8fa; padding: 0.6rem 0.8rem; overflow-x: auto; border-radius: 4px; font-size: 0.88rem; }
code { font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
img { max-width: 100%; }
a.anchor-link { visibility: hidden; text-decoration: none; margin-left: 0.3rem; color: #999; }
:hover > a.anchor-link { visibility: visible; }
.celltag_showdoc { margin: 1.2rem 0; }
.celltag_showdoc hr { display: none; }
.celltag_showdoc h3, .celltag_showdoc h4 { margin-bottom: 0.3rem; font-family: ui-monospace, monospace; }
.celltag_showdoc pre { border-left: 3px solid #1a5fb4; }
.output_stream pre, .output_text pre { background: none; border-left: 2px solid lightsalmon; }
.output_stderr pre { background: #fdf0f0; }
"""


def build_offline(out: Path, nbs: Path, workers: int) -> int:
    from fastcore.nbio import read_nb
    from fastcore.parallel import parallel
    from nbconvert.filters.markdown import markdown2html
    from pygments.formatters import HtmlFormatter

    srcs = notebooks(nbs)
    with tempfile.TemporaryDirectory(prefix="codex-nb-proc-") as proc:
        items = [(s, Path(proc) / s.relative_to(nbs)) for s in srcs]
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # the workers share the cores
        sys.path.insert(0, str(Path(__file__).parent))  # spawned workers find `_process` as `docs._process`
        from docs import _process as process
        res = parallel(process, items, n_workers=workers, method="spawn", pause=0.01)
        failed = [(s, e) for s, e in res if e]
        pages = []
        for s, d in items:
            if not d.exists(): continue
            nb = read_nb(d)
            fm, rel = _front_matter(nb), s.relative_to(nbs)
            out_name = "index.html" if rel.stem == "index" else fm.get("output-file", rel.stem + ".html")
            pages.append(dict(src=rel.as_posix(), out=(rel.parent / out_name).as_posix(), nb=nb, group=_group(rel),
                              title=str(fm.get("title") or rel.stem), description=str(fm.get("description") or "")))

        if out.exists():
            if (out / MARK).exists() or out == ROOT / "_docs": shutil.rmtree(out)
            elif any(out.iterdir()): sys.exit(f"docs: {out} is not empty and is no docs build of ours: choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        (out / MARK).write_text("built by tools/docs.py: this folder is replaced by the next build\n")
        (out / "site.css").write_text(CSS + HtmlFormatter().get_style_defs(".highlight") + "\n")
        styles = (nbs / "styles.css").exists()
        if styles: shutil.copy2(nbs / "styles.css", out / "styles.css")
        from nbdev.config import get_config
        cfg = get_config(ROOT)
        by_src, exporter, site = {p["src"]: p["out"] for p in pages}, _exporter(), str(cfg.get("title") or ROOT.name)
        site_url = f"{cfg.get('doc_host') or ''}{cfg.get('doc_baseurl') or ''}"
        for p in pages:
            body, _ = exporter.from_notebook_node(_to_nbformat(p["nb"]))
            root = _rel(".", p["out"]) + "/" if "/" in p["out"] else ""
            desc = f'<div class="description">{markdown2html(p["description"])}</div>' if p["description"] else ""
            page = PAGE.format(title=html.escape(p["title"]), site=site, root=root, description=desc, body=_fix_links(body, p, by_src, site_url),
                               styles=f'\n<link rel="stylesheet" href="{root}styles.css">' if styles else "",
                               sidebar=_sidebar(pages, p["out"], site))
            (out / p["out"]).parent.mkdir(parents=True, exist_ok=True)
            (out / p["out"]).write_text(page)
    for s, e in failed: print(f"docs: FAILED {s.relative_to(nbs.parent)}: {e}", file=sys.stderr)
    return 1 if failed else 0


def build_quarto(out: Path) -> int:
    r = subprocess.run([str(Path(sys.executable).parent / "nbdev-docs")], cwd=ROOT)
    if r.returncode == 0 and out.resolve() != (ROOT / "_docs").resolve():
        shutil.copytree(ROOT / "_docs", out, dirs_exist_ok=True)
    return r.returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_docs", help="site folder (default: _docs/)")
    ap.add_argument("--offline", action="store_true", help="build without Quarto even when it is installed")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="notebooks processed at a time")
    args = ap.parse_args(argv)
    out, t0 = args.out.resolve(), time.monotonic()
    index = out / "index.html"
    shown = index.relative_to(ROOT) if index.is_relative_to(ROOT) else index
    if shutil.which("quarto") and not args.offline:
        rc = build_quarto(out)
        if rc == 0: print(f"docs: built with Quarto -> {shown} ({time.monotonic() - t0:.0f} s)")
        return rc
    why = "--offline given" if args.offline else "Quarto not found"
    rc = build_offline(out, ROOT / "nbs", args.workers)
    print(f"docs: {why}; built offline with nbdev-proc-nbs + nbconvert -> {shown} ({time.monotonic() - t0:.0f} s)"
          + ("; some notebooks FAILED (above)" if rc else ""))
    return rc


if __name__ == "__main__":
    sys.exit(main())
