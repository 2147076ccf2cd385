"""Write docs/api.md: every public module of eokit, its public names, signatures and first docstring lines.

Usage: ``python docs/gen_api.py`` (rewrite docs/api.md) or ``python docs/gen_api.py --check``
(exit 1 when docs/api.md is out of date). The source is read with ``ast``, never imported, so
the reference needs no installed dependencies and does not depend on the machine.

A module is public when no part of its dotted name starts with ``_`` (package ``__init__``
files are the package itself). Its public names are ``__all__`` when it defines one (names
re-exported from another module point there), else the functions, classes and assignments it
defines at top level whose names do not start with ``_``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "eokit"
OUT = REPO / "docs" / "api.md"

HEADER = """# API reference

Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand (a test checks that
this page matches the code). One section per public module: its first docstring line, then its
public names with their signatures and the first line of their docstrings.
"""


def module_name(path: Path) -> str:
    """The dotted module name of a source file under src/."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def public_modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every public module, sorted by name."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if not any(p.startswith("_") for p in name.split(".")):
            found.append((name, path))
    yield from sorted(found)


def first_line(node: ast.AST) -> str:
    """The first paragraph of a node's docstring on one line ('' when it has none)."""
    doc = ast.get_docstring(node) if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                                         | ast.AsyncFunctionDef) else None
    if not doc or not doc.strip():
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _args(args: ast.arguments, drop_self: bool) -> str:
    text = ast.unparse(args)
    if drop_self:
        for first in ("self, ", "cls, ", "self", "cls"):
            if text.startswith(first):
                return text[len(first):]
    return text


def function_sig(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool = False) -> str:
    """``name(args) -> returns`` as written in the source."""
    ret = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    prefix = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
    return f"{prefix}{node.name}({_args(node.args, method)}){ret}"


def _decorators(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [ast.unparse(d) for d in node.decorator_list]


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any(d.split("(")[0].split(".")[-1] == "dataclass" for d in _decorators(node))


def class_sig(node: ast.ClassDef) -> str:
    """``class Name(how it is built)``: ``__init__``'s arguments or the dataclass fields, then its bases."""
    bases = ", ".join(ast.unparse(b) for b in [*node.bases, *node.keywords])
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        built = _args(init.args, True)
    elif _is_dataclass(node):
        fields = []
        for n in node.body:
            if not (isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)):
                continue
            value = ast.unparse(n.value) if n.value is not None else ""
            if "ClassVar" in ast.unparse(n.annotation) or n.target.id.startswith("_") or "init=False" in value:
                continue
            fields.append(f"{n.target.id}: {ast.unparse(n.annotation)}" + (f" = {value}" if value else ""))
        built = ", ".join(fields)
    else:
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    return f"class {node.name}({built})" + (f" [bases: {bases}]" if bases else "")


def _public_methods(node: ast.ClassDef) -> Iterator[str]:
    for n in node.body:
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_"):
            decos = _decorators(n)
            kind = "property " if "property" in decos or any(d.endswith(".setter") for d in decos) else ""
            if kind and any(d.endswith(".setter") for d in decos):
                continue
            static = "staticmethod" in decos
            yield _item(f"{kind}{function_sig(n, method=not static)}", first_line(n), indent="  ")


def _item(code: str, doc: str, indent: str = "") -> str:
    code = code.replace("`", "'")
    return f"{indent}- `{code}`" + (f": {doc}" if doc else "")


def _assigned(node: ast.stmt) -> list[tuple[str, str]]:
    """(name, text) of the plain names a top-level assignment binds."""
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [(node.target.id, f"{node.target.id}: {ast.unparse(node.annotation)}")]
    if isinstance(node, ast.Assign):
        out = []
        for t in node.targets:
            if isinstance(t, ast.Name):
                value = ast.unparse(node.value)
                out.append((t.id, f"{t.id} = {value}" if len(value) <= 60 else t.id))
        return out
    return []


def _all_names(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = node.value
            if isinstance(value, ast.List | ast.Tuple):
                return [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return None


def _imported_from(tree: ast.Module, package: str) -> dict[str, str]:
    """name -> the module it is imported from (absolute, for relative imports too)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                out[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return out


def module_section(name: str, path: Path) -> list[str]:
    """The markdown lines of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = [f"## {name}", ""]
    doc = first_line(tree)
    if doc:
        lines += [doc, ""]
    defined: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defined[node.name] = "\n".join([_item(f"def {function_sig(node)}", first_line(node))])
        elif isinstance(node, ast.ClassDef):
            defined[node.name] = "\n".join([_item(class_sig(node), first_line(node)), *_public_methods(node)])
        else:
            for target, text in _assigned(node):
                defined.setdefault(target, _item(text, ""))
    wanted = _all_names(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported = _imported_from(tree, package)
    items = []
    if wanted is None:
        items = [text for n, text in defined.items() if not n.startswith("_") and n != "__all__"]
    else:
        for n in wanted:
            if n in defined:
                items.append(defined[n])
            elif n in imported:
                origin, _, real = imported[n].rpartition(".")
                doc = _doc_of(origin, real)
                items.append(f"- `{n}`: from [{origin}](#{_anchor(origin)})" + (f": {doc}" if doc else ""))
            else:
                items.append(f"- `{n}`")
    return [*lines, *(items or ["(no public names)"]), ""]


def _doc_of(module: str, name: str) -> str:
    """The first docstring line of ``name`` defined at the top of eokit module ``module`` ('' if unknown)."""
    rel = Path(*module.split("."))
    for path in (PACKAGE.parent / rel.with_suffix(".py"), PACKAGE.parent / rel / "__init__.py"):
        if path.exists():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
                    return first_line(node)
    return ""


def _anchor(module: str) -> str:
    return module.replace(".", "").lower()


def render() -> str:
    """The whole of docs/api.md."""
    modules = list(public_modules())
    toc = []
    body: list[str] = []
    for name, path in modules:
        doc = first_line(ast.parse(path.read_text(encoding="utf-8")))
        toc.append(f"- [{name}](#{_anchor(name)})" + (f": {doc}" if doc else ""))
        body += module_section(name, path)
    return "\n".join([HEADER, "## Modules", "", *toc, "", *body]).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run `python docs/gen_api.py`", file=sys.stderr)
            return 1
        return 0
    tmp = OUT.with_name(f".{OUT.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(OUT)  # atomic: a reader never sees half a page
    print(f"wrote {OUT.relative_to(REPO)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
