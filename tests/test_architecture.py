"""The dependency rules of docs/architecture.md, enforced on every import statement (lazy ones too)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
# The layers, bottom up. ``warehouses.transfers`` is a layer of its own inside ``warehouses``: the network's process
# (issue 13), which sits above inventory, governance and orders while the network master data stays at the bottom.
APPS = ("warehouses", "governance", "inventory", "orders", "procurement", "warehouses.transfers", "finance")

# Which project packages each app may import. Keep in step with docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "warehouses": {"erp"},
    "governance": {"erp", "warehouses"},
    "inventory": {"erp", "warehouses", "governance"},
    "orders": {"erp", "warehouses", "governance", "inventory"},
    "procurement": {"erp", "warehouses", "governance", "inventory", "orders"},
    "warehouses.transfers": {"erp", "warehouses", "governance", "inventory", "orders"},
    "finance": {"erp", "warehouses", "governance", "inventory", "orders", "procurement", "warehouses.transfers"},
}
# erp modules that compose the apps into the running project; every other erp module is the shared
# base and imports no app at all.
ERP_COMPOSITION = {
    "erp/urls.py", "erp/views.py", "erp/demo.py", "erp/devserver.py", "erp/context_processors.py",
    "erp/api/urls.py", "erp/management/commands/load_demo.py",
    "erp/user_screens.py",  # the Users screen: offers the network's warehouses and reads the audit trail
}


def _layer_of(module: str) -> str:
    """The layer a dotted module belongs to: the longest layer name it starts with, else its top-level package."""
    for layer in sorted(APPS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return module.split(".")[0]


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_layer_of(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from warehouses import transfers`` imports the transfers layer, not only ``warehouses``
            found |= {_layer_of(f"{node.module}.{alias.name}") for alias in node.names}
    return found


def _directory(package: str) -> Path:
    return BASE_DIR / package.replace(".", "/")


def _sources(package: str) -> list[Path]:
    """The shipped code of a package: migrations and the app's own tests are left out, since tests
    may build fixtures from any app (an audit test changes an item to see the trail). A layer nested in
    the package (``warehouses.transfers`` in ``warehouses``) is its own and left out too."""
    nested = [_directory(layer) for layer in APPS if layer.startswith(package + ".")]
    root = _directory(package)
    return [p for p in root.rglob("*.py")
            if "migrations" not in p.relative_to(root).parts and "tests" not in p.relative_to(root).parts
            and not any(p.is_relative_to(inner) for inner in nested)]


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
    on_disk = {".".join(p.parent.relative_to(BASE_DIR).parts) for p in [*BASE_DIR.glob("*/apps.py"),
                                                                         *BASE_DIR.glob("*/*/apps.py")]}
    assert on_disk - {"erp"} == set(APPS)


def test_the_rule_detects_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from orders.models import Customer\n    return Customer\n")
    assert "orders" in _imported_packages(sample)


def test_the_network_master_data_never_imports_the_transfer_layer_above_it(tmp_path):
    """Both spellings of an import of the nested layer count as that layer, not as ``warehouses``."""
    sample = tmp_path / "sample.py"
    sample.write_text("from warehouses import transfers\nimport warehouses.transfers.models\n"
                      "from warehouses.models import Warehouse\n")
    assert _imported_packages(sample) == {"warehouses.transfers", "warehouses"}
    assert not any(path.is_relative_to(_directory("warehouses.transfers")) for path in _sources("warehouses"))
    assert _directory("warehouses.transfers") / "services.py" in _sources("warehouses.transfers")


# --- Issue 11: the stock belongs to inventory ---------------------------------------------------------------
#
# No shipped module outside inventory/ names an inventory table in SQL or writes (or locks) an inventory model:
# other apps and erp/ read stock through inventory's selectors or the ORM and change it through inventory's
# services and its stock API (inventory/stock.py), which is where raw SQL for speed belongs.

# Whose shipped code the stock rules cover: every app but inventory, and the project package.
STOCK_CLIENTS = (*(app for app in APPS if app != "inventory"), "erp")

# A string is read as SQL when it holds one of these words (any case). Prose holds them too ("from"), which is
# why docstrings are skipped and a table-like word is flagged only in such a string or as the whole string.
SQL_WORD = re.compile(r"\b(?:select|insert|update|delete|from|join|into|truncate)\b", re.IGNORECASE)
# Any inventory table, also one added after this test was written; ``{}`` stands for an f-string's
# placeholder, so ``f"inventory_{name}"`` counts as naming one.
GENERIC_INVENTORY_TABLE = r"inventory_(?:[a-z0-9_]|\{\})+"

# Queryset and manager calls that write, or lock for a write (a lock on stock rows belongs to the stock API).
WRITE_METHODS = frozenset({
    "create", "bulk_create", "bulk_update", "update", "update_or_create", "get_or_create", "delete",
    "select_for_update", "acreate", "abulk_create", "abulk_update", "aupdate", "aupdate_or_create",
    "aget_or_create", "adelete",
})
INSTANCE_WRITES = frozenset({"save", "delete", "asave", "adelete"})
# Queryset calls whose result is still a queryset or a model instance: a name bound from a chain of these is
# followed to its ``.save()``, ``.delete()`` and ``.update()``. Anything else (``values_list``, ``in_bulk``,
# ``count``) gives plain data, whose ``.update()`` is a dict's.
INSTANCE_METHODS = frozenset({
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "only", "defer", "annotate",
    "alias", "distinct", "using", "reverse", "none", "get", "first", "last", "latest", "earliest", "iterator",
    "select_for_update", "create",
})


def _stock_client_sources() -> list[Path]:
    """The shipped code the stock rules cover; the repo-level tests/ is not shipped and not listed."""
    return [path for package in STOCK_CLIENTS for path in _sources(package)]


def _relative(path: Path) -> str:
    return path.relative_to(BASE_DIR).as_posix()


def _inventory_models() -> dict[str, str]:
    """Every inventory model (auto-created many-to-many tables too) by class name, with its table."""
    from django.apps import apps

    return {model.__name__: model._meta.db_table
            for model in apps.get_app_config("inventory").get_models(include_auto_created=True)}


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of the string constants that stand alone as a statement: docstrings and attribute docstrings, prose
    that no database ever sees."""
    return {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _string_text(node: ast.AST) -> str | None:
    """The text of a string expression: a constant (implicit concatenation is already one), an f-string, or a
    ``+`` chain with a string in it; whatever is computed at run time reads as ``{}``."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_text(node.left), _string_text(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


def _placeholders(node: ast.AST) -> list[ast.AST]:
    """The expressions a string expression computes at run time: what its text shows as ``{}``."""
    if isinstance(node, ast.JoinedStr):
        return [part.value for part in node.values if isinstance(part, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and _string_text(node) is not None:
        return [leaf for side in (node.left, node.right)
                for leaf in (_placeholders(side) if _string_text(side) is not None else [side])]
    return []


def _string_roots(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Each outermost string expression with its text (the parts of an f-string or a ``+`` chain are not
    repeated on their own); docstrings are left out."""
    skip = _docstrings(tree)
    found: list[tuple[ast.AST, str]] = []

    def visit(node: ast.AST) -> None:
        text = _string_text(node)
        if text is not None:
            if id(node) not in skip:
                found.append((node, text))
            for child in _placeholders(node):  # what fills a ``{}`` may hold SQL of its own
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


class _Names:
    """What in one file names inventory's models: ``from inventory.models import X [as Y]``, the module itself
    (``import inventory.models [as m]``, ``from inventory import models [as m]``) and
    ``apps.get_model("inventory", "X")`` / ``apps.get_model("inventory.X")``, also bound to a name."""

    def __init__(self, tree: ast.AST, models: dict[str, str]) -> None:
        self.models = models
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = {"inventory.models"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "inventory.models":
                for alias in node.names:
                    if alias.name in models:
                        self.aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "inventory":
                self.modules |= {alias.asname or alias.name for alias in node.names if alias.name == "models"}
            elif isinstance(node, ast.Import):
                self.modules |= {alias.asname for alias in node.names
                                 if alias.name == "inventory.models" and alias.asname}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                model = self._get_model(node.value)
                if model:
                    self.aliases[node.targets[0].id] = model

    def _get_model(self, node: ast.AST) -> str | None:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model"):
            return None
        args = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        label = ".".join(args) if len(args) == 2 else args[0] if len(args) == 1 else ""
        app, _, name = label.partition(".")
        matches = [model for model in self.models if model.lower() == name.lower()]
        return matches[0] if app == "inventory" and matches else None

    def model(self, node: ast.AST) -> str | None:
        """The inventory model ``node`` names as a class, if it names one."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr in self.models:
            return node.attr if _dotted(node.value) in self.modules else None
        return self._get_model(node)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _inventory_sql_in(source: str, models: dict[str, str]) -> list[tuple[int, str]]:
    """``(line, table)`` for each inventory table that ``source`` names in SQL: in a string that reads as SQL,
    as a whole string (a table name given to ``sql.Identifier`` or as a parameter), or as a model's
    ``_meta.db_table``. A permission (``inventory.change_item``), a dotted label (``inventory.item``), a URL
    name without SQL around it and prose in docstrings are not SQL."""
    tables = set(models.values())
    known = "|".join(sorted((re.escape(table) for table in tables), key=len, reverse=True))
    pattern = re.compile(rf"\b(?:{known}|{GENERIC_INVENTORY_TABLE})(?![\w{{}}])", re.IGNORECASE)
    tree = ast.parse(source)
    lines = source.splitlines()
    found: set[tuple[int, str]] = set()
    for node, text in _string_roots(tree):
        if text.strip().lower() in tables:
            named = {text.strip().lower()}
        elif SQL_WORD.search(text):
            named = {match.group(0).lower() for match in pattern.finditer(text)}
        else:
            continue
        for table in named:
            span = range(node.lineno, (node.end_lineno or node.lineno) + 1)
            word = re.compile(rf"\b{re.escape(table)}(?![\w{{}}])", re.IGNORECASE)
            line = next((n for n in span if word.search(lines[n - 1])), node.lineno)
            found.add((line, table))
    names = _Names(tree, models)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "db_table" and isinstance(node.value, ast.Attribute)
                and node.value.attr == "_meta"):
            model = names.model(node.value.value)
            if model:
                found.add((node.lineno, models[model]))
    return sorted(found)


def _scopes(tree: ast.AST) -> list[tuple[ast.AST, ast.AST | None, list[ast.AST]]]:
    """Each scope (the module, every function and class) with its enclosing scope and the nodes that belong to
    it and to no inner one; an enclosing scope comes before the scopes inside it."""
    scopes = []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    pending: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    while pending:
        scope, parent = pending.pop()
        own: list[ast.AST] = []
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, kinds):
                pending.append((node, scope))
                continue
            own.append(node)
            stack.extend(ast.iter_child_nodes(node))
        scopes.append((scope, parent, own))
    return scopes


def _inventory_writes_in(source: str, models: dict[str, str]) -> list[tuple[int, str]]:
    """``(line, "Model.method")`` for each write to an inventory model through the ORM in ``source``:

    - a write or lock method at the end of a chain from the model's manager:
      ``Item.objects.filter(...).update(...)``, ``Lot.objects.create(...)``, ``StockBalance.objects.
      select_for_update()``, also through a related manager of an instance (``item.lots.create(...)``);
    - ``.save()`` or ``.delete()`` on a new instance (``Lot(...).save()``) or on what such a chain returns
      (``Item.objects.get(...).save()``);
    - the same on a name bound, in the same function (or an enclosing one), to an instance or a queryset of
      the model: ``item = Item.objects.get(...)``, ``for item in Item.objects.filter(...)``, ``item = Item(...)``.

    Best effort: what passes through a list, a dict, an attribute of another object or a function call is not
    followed. Reads (``filter``, ``get``, ``values_list``) are allowed."""
    tree = ast.parse(source)
    names = _Names(tree, models)
    found: set[tuple[int, str]] = set()

    def origin(node: ast.AST, bound: dict[str, str], *, following: bool = False) -> str | None:
        """The model whose instance, queryset or manager ``node`` is (not the class itself)."""
        steps = 0
        while True:
            model = names.model(node)
            if model:
                return model if steps else None
            if isinstance(node, ast.Name):
                return bound.get(node.id)
            if isinstance(node, ast.Await):
                node = node.value
            elif isinstance(node, ast.Call):
                if following and isinstance(node.func, ast.Attribute) and node.func.attr not in INSTANCE_METHODS:
                    return None
                if names.model(node.func):  # Model(...): a new instance
                    return names.model(node.func)
                node = node.func
            elif isinstance(node, ast.Attribute | ast.Subscript):
                node = node.value
            else:
                return None
            steps += 1

    def bind(target: ast.AST, value: ast.AST, bound: dict[str, str], *, iterating: bool = False) -> None:
        if not isinstance(target, ast.Name):
            return
        if iterating and isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                and value.func.id in {"list", "sorted", "reversed", "tuple"} and value.args:
            value = value.args[0]
        model = origin(value, bound, following=True)
        if model:
            bound[target.id] = model

    bindings: dict[int, dict[str, str]] = {}
    for scope, outer, own in _scopes(tree):  # a function sees the names its enclosing scopes bound
        bound = dict(bindings[id(outer)]) if outer is not None else {}
        for node in own:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                bind(node.targets[0], node.value, bound)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                bind(node.target, node.value, bound)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                bind(node.target, node.iter, bound, iterating=True)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                bind(node.optional_vars, node.context_expr, bound)
        bindings[id(scope)] = bound
        for node in own:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            if method not in WRITE_METHODS | INSTANCE_WRITES:
                continue
            model = origin(node.func.value, bound)
            if model:
                found.add((node.lineno, f"{model}.{method}"))
    return sorted(found)


def _findings(scan: Callable[[str, dict[str, str]], list[tuple[int, str]]]) -> list[str]:
    """What ``scan`` finds in the shipped files outside inventory, as ``path:line: what``."""
    models = _inventory_models()
    return [f"{_relative(path)}:{line}: {what}"
            for path in _stock_client_sources() for line, what in scan(path.read_text(), models)]


def test_no_module_outside_inventory_names_an_inventory_table_in_sql():
    violations = _findings(_inventory_sql_in)
    assert not violations, ("SQL outside inventory/ names inventory tables; read them through inventory.selectors "
                            "(or the ORM) and write them through inventory's services:\n" + "\n".join(violations))


def test_no_module_outside_inventory_writes_or_locks_an_inventory_model():
    violations = _findings(_inventory_writes_in)
    assert not violations, ("Code outside inventory/ writes or locks inventory models; call inventory's services "
                            "or its stock API (inventory.stock) instead:\n" + "\n".join(violations))


def _flagged_lines(sample: str) -> list[tuple[int, str]]:
    """What a sample's ``# flags: what`` comments say the scanner must find, line by line."""
    return sorted((number, line.split("# flags: ")[1].strip())
                  for number, line in enumerate(sample.splitlines(), start=1) if "# flags: " in line)


SQL_SAMPLE = '''"""Reads inventory_stockbalance from the ledger: a docstring is prose, not SQL."""
from psycopg2 import sql

from inventory.models import StockBalance as Balance

PERMISSION = "inventory.change_item"
LABEL = "inventory.item"
URL_NAME = "inventory_item_list"
NOTE = "check_inventory_invariants reads from the summaries"
OWN = "SELECT id FROM orders_allocation WHERE item_id = %s"


def bad(cursor, column):
    cursor.execute("SELECT on_hand FROM inventory_stockbalance WHERE item_id = %s")  # flags: inventory_stockbalance
    cursor.execute(f"UPDATE {column} SET x = 0 FROM inventory_itemcost")  # flags: inventory_itemcost
    cursor.execute("SELECT lot_number "
                   "FROM Inventory_Lot")  # flags: inventory_lot
    cursor.execute(f"DELETE FROM {Balance._meta.db_table}")  # flags: inventory_stockbalance
    cursor.execute(sql.SQL("TABLE {}").format(sql.Identifier("inventory_item")))  # flags: inventory_item
    cursor.execute("SELECT 1 FROM " + "inventory_transfer")  # flags: inventory_transfer
    cursor.execute("SELECT id " + " ".join(["FROM inventory_itemabcclass"]))  # flags: inventory_itemabcclass
    cursor.execute(f"SELECT * FROM inventory_{column}")  # flags: inventory_{}
'''

CLEAN_SQL_SAMPLE = '''
def fine(cursor, order_id):
    cursor.execute("SELECT number FROM orders_salesorder WHERE id = %s", [order_id])
    return reverse("inventory_item_list"), "inventory.view_item", "select an inventory.item"
'''


def test_the_sql_rule_flags_exactly_the_strings_that_name_an_inventory_table_in_sql():
    models = _inventory_models()
    assert _inventory_sql_in(SQL_SAMPLE, models) == _flagged_lines(SQL_SAMPLE)
    assert _inventory_sql_in(CLEAN_SQL_SAMPLE, models) == []


WRITES_SAMPLE = '''import inventory.models
from django.apps import apps
from inventory import models as stock_models
from inventory.models import Item
from inventory.models import StockBalance as Balance
from orders.models import SalesOrder

Summary = apps.get_model("inventory", "ItemWarehouseSummary")


def bad(item_id):
    Item.objects.create(sku="X")  # flags: Item.create
    Balance.objects.filter(item_id=item_id).select_for_update().first()  # flags: StockBalance.select_for_update
    inventory.models.Lot.objects.filter(item_id=item_id).update(expiry_date=None)  # flags: Lot.update
    stock_models.Lot(item_id=item_id).save()  # flags: Lot.save
    Summary.objects.bulk_update([], ["allocated"])  # flags: ItemWarehouseSummary.bulk_update
    item = Item.objects.filter(active=True).get(pk=item_id)
    item.save()  # flags: Item.save
    item.lots.create(lot_number="L1")  # flags: Item.create
    for balance in Balance.objects.filter(item_id=item_id):
        balance.delete()  # flags: StockBalance.delete

    def later():
        item.delete()  # flags: Item.delete

    return later


def fine(item_id, order):
    Item.objects.filter(pk=item_id).values_list("sku", flat=True)
    item = Item.objects.get(pk=item_id)
    skus = dict(Item.objects.values_list("pk", "sku"))
    skus.update({0: "none"})
    order.save()
    SalesOrder.objects.filter(pk=order.pk).update(status="draft")
    SalesOrder.objects.select_for_update().get(pk=order.pk)
    return item.sku
'''

CLEAN_WRITES_SAMPLE = '''from inventory.models import Item
from orders.models import SalesOrder


def fine(item_id):
    order = SalesOrder.objects.create(number="SO-1")
    order.save()
    return Item.objects.filter(pk=item_id).first(), order
'''


def test_the_write_rule_flags_exactly_the_writes_and_locks_of_inventory_models():
    models = _inventory_models()
    assert _inventory_writes_in(WRITES_SAMPLE, models) == _flagged_lines(WRITES_SAMPLE)
    assert _inventory_writes_in(CLEAN_WRITES_SAMPLE, models) == []


def test_templates_carry_no_style_block_and_link_no_stylesheet_but_the_projects():
    """Styles live in static/css (one stylesheet, and the packing slip's sheet of its own). Only the 500 page keeps
    its styles inline: it must render when nothing else can, static files included."""
    templates = BASE_DIR / "templates"
    offenders = [str(path.relative_to(templates)) for path in sorted(templates.rglob("*.html"))
                 if "<style" in path.read_text() and path.relative_to(templates).as_posix() != "errors/500.html"]
    assert not offenders, f"move these <style> blocks into static/css/concord.css: {offenders}"
    assert "<style" in (templates / "errors" / "500.html").read_text()  # the exception is still needed, and real
