"""The house rules that keep the code easy to change, checked on the source itself: arrows run one way
(pages -> components -> engine, pages -> portal -> engine), and caches belong to objects, not modules."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = {"flask", "flask_login", "flask_limiter", "dash", "dash_bootstrap_components", "dash_ag_grid", "sqlalchemy",
       "alembic", "celery", "werkzeug"}
# What each layer may not import (top-level package names).
FORBIDDEN = {
    "engine": {"portal", "pages", "components"} | WEB,
    "portal": {"pages", "components"},
    "components": {"portal", "pages", "sqlalchemy", "flask", "flask_login"},
}
# The one way up: a printed report is drawn with the explain page's own pure figure and text functions (issue 15:
# the report builder lives in portal/ so the API and the command line make the same PDF), and its research notice.
ARROWS_ALLOWED = {("portal/reports/pdf.py", "components")}
# Lazily made constants, not caches of data: allowed to stay where they are.
# constants worked out once per process, bounded and never changed: a dummy hash, the shipped common passwords
MODULE_CACHES_ALLOWED = {("portal/accounts/passwords.py", "_dummy_hash"),
                         ("portal/accounts/passwords.py", "common_passwords")}


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_arrows_run_one_way(layer):
    wrong = {str(path.relative_to(ROOT)): sorted(_imported(ast.parse(path.read_text())) & FORBIDDEN[layer])
             for path in _modules(layer)}
    wrong = {path: [n for n in names if (path, n) not in ARROWS_ALLOWED] for path, names in wrong.items()}
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_notebooks_never_import_the_portal():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert not _imported(ast.parse(code)) & {"portal", "pages"}, path.name


def _module_caches(path: Path) -> list[str]:
    """Functions decorated with functools' caches, and module-level dicts or OrderedDicts that a function
    writes to: the signs of a cache that belongs to a module."""
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in ("cache", "lru_cache", "cached_property"):
                    found.append(node.name)
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Dict) or (isinstance(value, ast.Call) and getattr(value.func, "id", "") in (
                "dict", "OrderedDict")):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            written = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Subscript)
                       and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)}
            found += [name for name in names if name in written]
    return found


def test_caches_belong_to_objects():
    caches = {(str(path.relative_to(ROOT)), name)
              for folder in ("engine", "portal", "pages", "components") for path in _modules(folder)
              for name in _module_caches(path)}
    assert caches - MODULE_CACHES_ALLOWED == set()


def test_the_cache_check_can_fail(tmp_path):
    module = tmp_path / "cached.py"
    module.write_text("from functools import lru_cache\n_seen = {}\n\n@lru_cache(4)\ndef f(x):\n    return x\n\n"
                      "def g(k, v):\n    _seen[k] = v\n")
    assert sorted(_module_caches(module)) == ["_seen", "f"]
