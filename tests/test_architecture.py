"""The dependency rules of docs/architecture.md, enforced on every import statement (lazy ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
APPS = ("warehouses", "governance", "inventory", "orders", "procurement", "finance")

# Which project packages each app may import. Keep in step with docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "warehouses": {"erp"},
    "governance": {"erp", "warehouses"},
    "inventory": {"erp", "warehouses", "governance"},
    "orders": {"erp", "warehouses", "governance", "inventory"},
    "procurement": {"erp", "warehouses", "governance", "inventory"},
    "finance": {"erp", "warehouses", "governance", "inventory", "orders", "procurement"},
}
# erp modules that compose the apps into the running project; every other erp module is the shared
# base and imports no app at all.
ERP_COMPOSITION = {
    "erp/urls.py", "erp/views.py", "erp/demo.py", "erp/devserver.py", "erp/context_processors.py",
    "erp/api/urls.py", "erp/management/commands/load_demo.py",
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    """The shipped code of a package: migrations and the app's own tests are left out, since tests
    may build fixtures from any app (an audit test changes an item to see the trail)."""
    return [p for p in (BASE_DIR / package).rglob("*.py") if "migrations" not in p.parts and "tests" not in p.parts]


@pytest.mark.parametrize("app", APPS)
def test_each_app_imports_only_the_apps_below_it(app):
    violations = []
    for path in _sources(app):
        bad = (_imported_packages(path) & (set(APPS) | {"erp"})) - ALLOWED[app] - {app}
        if bad:
            violations.append(f"{path.relative_to(BASE_DIR)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_the_shared_base_in_erp_imports_no_app():
    violations = []
    for path in _sources("erp"):
        relative = str(path.relative_to(BASE_DIR))
        if relative in ERP_COMPOSITION or relative.startswith("erp/tests/"):
            continue
        bad = _imported_packages(path) & set(APPS)
        if bad:
            violations.append(f"{relative} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_the_rules_cover_every_app_directory():
    on_disk = {p.parent.name for p in BASE_DIR.glob("*/apps.py")} - {"erp"}
    assert on_disk == set(APPS)


def test_the_rule_detects_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from orders.models import Customer\n    return Customer\n")
    assert "orders" in _imported_packages(sample)
