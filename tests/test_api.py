"""The public API is what __all__ says, and every error sits in the one tree."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys

import truceguard
from truceguard import errors


def test_all_names_exist_and_are_exported() -> None:
    assert sorted(truceguard.__all__) == sorted(set(truceguard.__all__))
    for name in truceguard.__all__:
        assert hasattr(truceguard, name), name
    public = {n for n in vars(truceguard) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(truceguard, n))}
    assert public - modules == set(truceguard.__all__) - {"__version__"}
    assert set(truceguard.__all__) <= set(dir(truceguard))


def test_lazy_table_matches_the_typed_imports() -> None:
    """The name -> module table that serves the public names agrees with ``__all__`` and with
    the imports type checkers read."""
    table = {name: module for module, names in truceguard._EXPORTS.items() for name in names}
    assert set(table) == set(truceguard.__all__) - {"__version__"}
    tree = ast.parse(pathlib.Path(truceguard.__file__).read_text(encoding="utf-8"))
    guarded = next(n for n in tree.body if isinstance(n, ast.If))
    typed = {a.asname or a.name: n.module for n in guarded.body
             if isinstance(n, ast.ImportFrom) for a in n.names}
    assert typed == table
    for name, module in table.items():
        assert getattr(truceguard, name) is getattr(sys.modules[module], name), name


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        truceguard.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("truceguard.no_such_name exists")
    assert not hasattr(truceguard, "no_such_name")


def test_import_loads_nothing_heavy() -> None:
    """``import truceguard`` stays light: the heavy libraries load with the names that use
    them."""
    code = ("import truceguard, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'scipy', 'shapely', 'pyproj', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_one_exception_tree() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == errors.__name__]
    assert len(classes) >= 9
    for c in classes:
        assert issubclass(c, errors.TruceguardError), c
        assert c.__name__ in (errors.__doc__ or ""), f"{c.__name__} missing from the drawing"


def test_core_does_not_import_the_surfaces() -> None:
    root = pathlib.Path(truceguard.__file__).parent
    surfaces = ("cli", "server", "web")  # with their subpackages (server/routes ...)
    core = [p for p in root.rglob("*.py") if p.relative_to(root).parts[0] not in surfaces
            and p.name != "__main__.py"]
    for p in core:
        text = p.read_text(encoding="utf-8")
        for surface in ("truceguard.cli", "truceguard.server", "truceguard.web"):
            assert f"import {surface}" not in text and f"from {surface}" not in text, p


def test_the_store_is_pure_persistence() -> None:
    """store/ imports nothing from judge, plan, report, pipeline, cli or server."""
    root = pathlib.Path(truceguard.__file__).parent / "store"
    banned = ("truceguard.judge", "truceguard.plan", "truceguard.report", "truceguard.pipeline",
              "truceguard.cli", "truceguard.server", "truceguard.web")
    for p in root.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(banned), f"{p.name} imports {name}"


def test_subpackages_export_what_they_say() -> None:
    import importlib

    for name in ("truceguard.io", "truceguard.store", "truceguard.judge", "truceguard.plan",
                 "truceguard.report", "truceguard.geo"):
        mod = importlib.import_module(name)
        assert mod.__doc__, name
        for export in getattr(mod, "__all__", []):
            assert hasattr(mod, export), (name, export)
        assert getattr(mod, "__all__", None), f"{name} has no __all__"
