"""The layer contract holds for every app, and no app dodges it with a function-local import."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_NAME = "Apps import only the layers below them"


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["name"] == CONTRACT_NAME)


def _layer_packages() -> list[str]:
    return [name.strip() for layer in _contract()["layers"] for name in layer.split("|")]


def _local_packages() -> set[str]:
    return {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == ROOT  # the project's own, not site-packages
    }


def test_every_local_app_is_in_the_layers_contract() -> None:
    """A new app cannot escape the contract by being left out of it."""
    layered = set(_layer_packages())
    assert _local_packages() - layered == set()
    assert {"api", "config", "ops"} <= layered
    assert "ignore_imports" not in _contract()


def test_the_layers_run_in_the_documented_order() -> None:
    order = _layer_packages()
    bottom_up = [
        "projects",
        "events",
        "connectors",
        "profiles",
        "connections",
        "runtime",
        "rollouts",
    ]
    positions = [order.index(name) for name in bottom_up]
    assert positions == sorted(positions, reverse=True)  # listed top first


def _function_local_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                found.append((inner.lineno, inner.module))
            elif isinstance(inner, ast.Import):
                found.extend((inner.lineno, alias.name) for alias in inner.names)
    return found


def test_no_function_local_import_between_apps() -> None:
    packages = set(_layer_packages())
    offenders = []
    for package in sorted(packages):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            for line, module in _function_local_imports(path):
                target = module.split(".")[0]
                if target in packages and target != package:
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_the_scan_finds_a_function_local_import(tmp_path: Path) -> None:
    """The scan above can fail: it sees an import inside a function."""
    module = tmp_path / "example.py"
    module.write_text("def f():\n    from connections.models import Connection\n")
    assert _function_local_imports(module) == [(2, "connections.models")]
