"""The store's role protocols: ``ObservationStore``, ``JudgingStore`` and ``MissionStore``
(each on ``StoreCore``), whose union is ``Store``. Both backends satisfy every role, the roles
split ``Store`` without overlap, and every method the package calls on a store is declared in
one of them: nothing reaches past the protocol into a backend (no SQL sent from outside the
store, no ``hasattr`` probing for a backend's extras)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import truceguard
from truceguard.store import (
    JudgingStore,
    MissionStore,
    ObservationStore,
    PostgresStore,
    SQLiteStore,
    Store,
    StoreCore,
)
from truceguard.store.base import ROLES, protocol_methods

PACKAGE = Path(truceguard.__file__).parent
STORE_PACKAGE = PACKAGE / "store"
STORE_TYPES = frozenset({"Store", "StoreCore", *(r.__name__ for r in ROLES)})
RECEIVER = re.compile(r"_?\w*store")  # store, self.store, self._store, new_store, ...


def test_both_backends_satisfy_every_role(store: Store) -> None:
    for role in (StoreCore, *ROLES, Store):
        assert isinstance(store, role), (store.backend, role.__name__)


@pytest.mark.parametrize("backend", [SQLiteStore, PostgresStore])
def test_each_backend_class_implements_every_declared_method(backend: type) -> None:
    missing = sorted(m for m in protocol_methods(Store) if not callable(getattr(backend, m, None)))
    assert missing == []


def test_the_roles_split_the_store_without_overlap() -> None:
    core = protocol_methods(StoreCore)
    roles = {r.__name__: protocol_methods(r) - core for r in ROLES}
    assert set(ROLES) == {ObservationStore, JudgingStore, MissionStore}
    for name, methods in roles.items():
        assert methods, name
        for other, theirs in roles.items():
            if other != name:
                assert not methods & theirs, (name, other, sorted(methods & theirs))
    assert set().union(core, *roles.values()) == protocol_methods(Store)
    assert {"transaction", "close", "set_busy_timeout"} <= core
    assert {"ingest_stream", "checkpoint", "add_observation_columns"} <= roles["ObservationStore"]
    assert {"write_fusion", "write_violations", "lock_violation"} <= roles["JudgingStore"]
    assert {"users", "audit", "enqueue", "plan_run"} <= roles["MissionStore"]


def store_names(fn: ast.AST) -> set[str]:
    """The parameters of ``fn`` annotated with a store type (``Store``, a role, ``X | None``)."""
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    return {a.arg for a in args if a.annotation is not None
            and STORE_TYPES & set(re.findall(r"\w+", ast.unparse(a.annotation)))}


def receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def calls_on_stores(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, method) of every ``<store>.<method>(...)`` call and every ``hasattr``/``getattr``
    probe of a store for a method, where ``<store>`` is a name or attribute that says store,
    or a parameter annotated with a store type."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, stores: set[str]) -> None:
        stores = stores | store_names(node)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                name = receiver(func.value)
                if name is not None and (RECEIVER.fullmatch(name) or name in stores):
                    found.append((node.lineno, func.attr))
            if (isinstance(func, ast.Name) and func.id in ("hasattr", "getattr")
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                name = receiver(node.args[0])
                if name is not None and (RECEIVER.fullmatch(name) or name in stores):
                    found.append((node.lineno, f"{func.id}:{node.args[1].value}"))
        for child in ast.iter_child_nodes(node):
            visit(child, stores)

    visit(tree, set())
    return found


def test_the_walk_finds_calls_probes_and_annotated_parameters() -> None:
    tree = ast.parse("def f(db: MissionStore | None, other: int):\n"
                     "    db.users(); other.users(); self.store.execute('x')\n"
                     "    if hasattr(store, 'set_busy_timeout'): pass\n"
                     "    getattr(store, 'path', None)\n")
    assert sorted(m for _, m in calls_on_stores(tree)) == [
        "execute", "getattr:path", "hasattr:set_busy_timeout", "users"]


def test_every_method_called_on_a_store_is_declared_in_a_role() -> None:
    declared = protocol_methods(Store) | {"path", "backend"}
    outside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(STORE_PACKAGE):
            continue
        for line, method in calls_on_stores(ast.parse(path.read_text(encoding="utf-8"))):
            name = method.split(":")[-1]
            if method.startswith("hasattr:") or name not in declared:
                outside.append(f"{path.relative_to(PACKAGE)}:{line} {method}")
    assert outside == []
