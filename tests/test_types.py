"""What README's *Types* promises of the mypy setup, checked on the files (mypy itself runs in `make test`)."""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STRICT = {"erp.*", "inventory.*", "orders.*"}
STRICT_FLAGS = {"disallow_untyped_defs", "disallow_any_generics", "warn_return_any", "check_untyped_defs"}
# A suppression names its error code and then says why, in a comment of its own on the same line.
EXPLAINED_IGNORE = re.compile(r"#\s*type:\s*ignore\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\]\s+#\s*\S")


def _mypy() -> dict:
    return tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["mypy"]


def test_erp_inventory_and_orders_are_strict_and_nothing_hides_its_errors():
    config = _mypy()
    assert config["warn_unused_ignores"] is True
    assert "mypy_django_plugin.main" in config["plugins"] and "mypy_drf_plugin.main" in config["plugins"]
    overrides = config.get("overrides", [])
    strict = [o for o in overrides if set(o["module"]) >= STRICT]
    assert strict and all(strict[0].get(flag) is True for flag in STRICT_FLAGS), strict
    hidden = [o["module"] for o in overrides if o.get("ignore_errors")]
    assert not hidden, f"ignore_errors hides these modules' errors: {hidden}"


def _ignore_comments(source: str) -> list[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    found: list[tuple[int, str]] = []
    for token in tokens:
        if token.type == tokenize.COMMENT and re.search(r"type:\s*ignore", token.string):
            found.append((token.start[0], token.string))
    return found


def _unexplained(source: str) -> list[int]:
    return [line for line, comment in _ignore_comments(source) if not EXPLAINED_IGNORE.search(comment)]


def test_every_type_ignore_names_its_code_and_says_why():
    packages = _mypy()["files"]
    offenders = [
        f"{path.relative_to(BASE_DIR)}:{line}"
        for package in packages for path in sorted((BASE_DIR / package).rglob("*.py"))
        if "migrations" not in path.parts for line in _unexplained(path.read_text())
    ]
    assert not offenders, "a `# type: ignore` without `[code]  # why` on its line:\n" + "\n".join(offenders)


def test_the_ignore_rule_tells_an_explained_ignore_from_a_bare_one():
    sample = (
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[attr-defined]\n"
        "c = f()  # type: ignore[attr-defined]  # the stub lacks it\n"
        "d = f()  # type: ignore[misc, arg-type]  # Any base from an untyped package\n"
        "e = '# type: ignore'\n"
    )
    assert _unexplained(sample) == [1, 2]
