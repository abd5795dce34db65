"""CSV import and export of master data: one generic mechanism, one schema per kind of row.

A *schema* (``CsvSchema`` subclass) describes one kind ("items", "customers", ...): its columns in
order, its natural key, how a row becomes the keyword arguments of the app's services
(``parse_row``), how those are applied (``apply``: create when the natural key is new, update
otherwise, nothing when the row equals what is stored) and how a stored object becomes a row
(``export_rows``). Export writes exactly the layout import reads, so exporting and re-importing a
file reports every row "unchanged".

Registration. ``erp`` is the platform every app depends on, so it must not import the apps. Each
app's ``AppConfig.ready()`` imports its own ``csv_schemas`` module, whose classes register
themselves with ``@register``. We chose this over a table of dotted paths in ``erp`` because the
kind, its layout and the services it calls then live together in the app that owns the model, and
``erp`` never names an app, not even as a string; the cost is that a kind exists only once the
app registry is ready, which is always the case for commands, views and tests.

A schema instance serves one import or export for one user: it carries ``self.user`` and caches
the references it resolves (regions, warehouses, units...) and the existing objects the file
names, so a file costs a constant number of lookup queries, not one per row. ``parse_row(row)``
and ``apply(parsed)`` therefore take the user from the instance rather than as an argument.

Import contract (``import_csv``):

- File-level problems (empty file, not UTF-8, not comma-separated, missing or unknown headers,
  more than ``MAX_ROWS`` rows) are reported in ``ImportReport.file_errors`` and no row is read.
- Every row is parsed with the models' own field validation; booleans accept true/false, 1/0,
  yes/no; references are natural keys resolved inside the user's scope (``scope_queryset``), so
  a reference outside the scope reads exactly like an unknown one. A natural key repeated within
  the file is an error on the later row.
- All rows are applied in ONE transaction (``run_command``), with ``joined_command`` so the
  services join it instead of opening their own. Each row's service call runs in a savepoint, so
  a refused row (a ``DomainError`` such as ``HomeWarehouseOutsideRegion``, a unique or check
  constraint failure in the database) is reported on its line and the remaining rows are still
  tried, giving the complete list of problems in one pass. If any row failed, or on a dry run,
  the whole transaction is rolled back: an import with any error writes nothing, and a dry run
  shows exactly what the real import would do, database constraint failures included.

Errors are ``{column: [messages]}`` per row; problems that belong to no single column use the key
``"row"``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import Field, Model, ProtectedError, QuerySet

from erp import constraints
from erp.exceptions import DomainError, NotFound, PermissionDenied
from erp.scoping import scope_queryset
from erp.transactions import joined_command, run_command

MAX_ROWS = 20_000
ROW = "row"  # the error key for problems that belong to no single column
ACTIONS = ("create", "update", "unchanged", "error")
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
PROGRESS_EVERY = 250  # rows between two progress reports of a long import or export

Progress = Callable[[int], None]  # told how many rows are done so far


class UnknownCsvKind(NotFound):
    code = "unknown_csv_kind"
    default_message = "There is no CSV layout of that name."


# --------------------------------------------------------------------------------------------- report


@dataclass
class RowResult:
    """One data row of the file: its first physical line, its natural key, what it does, what is wrong."""

    line: int
    key: str
    action: str = "error"
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    file_errors: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    applied: bool = False  # True only when the rows were written and committed

    @property
    def ok(self) -> bool:
        return not self.file_errors and all(row.ok for row in self.rows)

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if not row.ok]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    def summary(self) -> str:
        if self.file_errors:
            return "The file was rejected; nothing was imported."
        counts = ", ".join(f"{n} {action}" for action, n in self.counts().items() if n)
        if not self.ok:
            return f"{len(self.error_rows)} row(s) have errors; nothing was imported ({counts})."
        if self.dry_run:
            return f"Dry run: nothing was written ({counts or 'no rows'})."
        return f"Imported: {counts}."

    def to_text(self, *, include_unchanged: bool = False) -> str:
        """The report for a terminal: file errors, then one line per row (unchanged rows only on request)."""
        lines = [f"file: {message}" for message in self.file_errors]
        for row in self.rows:
            if row.action == "unchanged" and row.ok and not include_unchanged:
                continue
            problems = "; ".join(f"{col}: {msg}" for col, msgs in row.errors.items() for msg in msgs)
            lines.append(f"line {row.line}\t{row.key}\t{row.action}" + (f"\t{problems}" if problems else ""))
        lines.append(self.summary())
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- parsing


class RowInvalid(Exception):
    """A row cannot be applied; ``errors`` maps column names (or ``ROW``) to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(errors)


@dataclass
class ParsedRow:
    """A row ready for the services: ``values`` are their keyword arguments (natural key excluded)."""

    key: tuple[str, ...]
    values: dict[str, Any]


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"'{raw}' is not a yes/no value; use true/false, yes/no or 1/0.")


def format_bool(value: bool) -> str:
    return "true" if value else "false"


def format_decimal(value: Decimal | None) -> str:
    """A decimal without trailing zeros and never in exponent notation ("12", "0.35", "1440")."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on ``separator`` except where it is escaped with a backslash; escapes are kept for the next level."""
    parts, current, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            current.append(char)
            current.append(next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    out, chars = [], iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def escape(text: str, specials: str = "\\|;") -> str:
    return "".join(f"\\{char}" if char in specials else char for char in text)


class RowParser:
    """Reads one row's cells, collecting every problem instead of stopping at the first."""

    def __init__(self, row: dict[str, str]) -> None:
        self.row = row
        self.errors: dict[str, list[str]] = {}

    def error(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)

    def text(self, column: str) -> str:
        return self.row[column].strip()

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            self.error(column, "This value is required.")
        return value

    def boolean(self, column: str) -> bool | None:
        try:
            return parse_bool(self.text(column))
        except ValueError as exc:
            self.error(column, str(exc))
            return None

    def model_value(self, column: str, model: type[Model], field_name: str | None = None, *,
                    blank_is_none: bool = False, raw: str | None = None) -> Any:
        """Convert and validate with the model field's own rules (decimal places, ranges, max length)."""
        model_field = model._meta.get_field(field_name or column)
        if not isinstance(model_field, Field):
            raise TypeError(f"{model.__name__}.{field_name or column} is a relation, not a field with a value")
        value = self.text(column) if raw is None else raw.strip()
        if value == "" and blank_is_none:
            return None
        if value == "" and not model_field.blank:
            self.error(column, "This value is required.")
            return None
        try:
            python_value = model_field.to_python(value)
            model_field.run_validators(python_value)
        except ValidationError as exc:
            for message in exc.messages:
                self.error(column, message)
            return None
        return python_value

    def reference(self, column: str, lookup: dict[str, Any], label: str, *, optional: bool = False) -> Any:
        """Resolve a natural key from ``lookup`` (already narrowed to the user's scope)."""
        value = self.text(column)
        if not value:
            if not optional:
                self.error(column, "This value is required.")
            return None
        found = lookup.get(value)
        if found is None:
            self.error(column, f"Unknown {label} '{value}'.")
        return found

    def finish(self) -> None:
        if self.errors:
            raise RowInvalid(self.errors)


# --------------------------------------------------------------------------------------------- schema


class CsvSchema:
    """The layout of one kind of row and how it maps to the app's services. See the module docstring."""

    kind: ClassVar[str]
    model: ClassVar[type[Model]]
    columns: ClassVar[tuple[str, ...]]
    natural_key: ClassVar[tuple[str, ...]]
    title: ClassVar[str] = ""
    # service/model field names whose errors belong to a differently named column
    field_columns: ClassVar[dict[str, str]] = {}
    extra_import_permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, user: Any) -> None:
        self.user = user
        self.reset()

    def reset(self) -> None:
        """Forget cached objects (a retried transaction must not see rows it rolled back)."""
        self._refs: dict[str, dict[str, Any]] = {}
        self._existing: dict[tuple[str, ...], Any] = {}

    # ---- permissions
    def _perm(self, verb: str) -> str:
        meta = self.model._meta
        return f"{meta.app_label}.{verb}_{meta.model_name}"

    @property
    def view_permission(self) -> str:
        return self._perm("view")

    @property
    def import_permissions(self) -> tuple[str, ...]:
        return (self._perm("add"), self._perm("change"), *self.extra_import_permissions)

    def may_export(self) -> bool:
        return bool(self.user.has_perm(self.view_permission))

    def may_import(self) -> bool:
        return bool(self.user.has_perms(self.import_permissions))

    # ---- references and existing objects
    def refs(self, name: str, queryset: QuerySet[Any], key_field: str = "code") -> dict[str, Any]:
        """``{natural key: object}`` of ``queryset`` inside the user's scope, loaded once per import."""
        if name not in self._refs:
            self._refs[name] = {getattr(obj, key_field): obj for obj in scope_queryset(queryset, self.user)}
        return self._refs[name]

    def key_of(self, row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[column].strip() for column in self.natural_key)

    def preload(self, keys: Sequence[tuple[str, ...]]) -> None:
        self._existing = dict(self.load_existing(keys))

    def load_existing(self, keys: Sequence[tuple[str, ...]]) -> Iterable[tuple[tuple[str, ...], Any]]:
        """Existing objects named by ``keys`` that the user may see, as ``(key, object)`` pairs."""
        raise NotImplementedError

    def existing(self, key: tuple[str, ...]) -> Any:
        return self._existing.get(key)

    # ---- import
    def parse_row(self, row: dict[str, str]) -> ParsedRow:
        """Turn a row into service arguments, or raise ``RowInvalid`` with every problem found."""
        raise NotImplementedError

    def current(self, obj: Any) -> dict[str, Any]:
        """The stored object in the shape of ``comparable(parsed)``, to tell "unchanged" from "update"."""
        raise NotImplementedError

    def comparable(self, parsed: ParsedRow) -> dict[str, Any]:
        return parsed.values

    def plan(self, parsed: ParsedRow) -> str:
        obj = self.existing(parsed.key)
        if obj is None:
            return "create"
        return "unchanged" if self.current(obj) == self.comparable(parsed) else "update"

    def apply(self, parsed: ParsedRow) -> str:
        """Create when the natural key is new, update when it differs, nothing when unchanged."""
        action = self.plan(parsed)
        if action == "create":
            self._existing[parsed.key] = self.create(parsed)
        elif action == "update":
            self._existing[parsed.key] = self.update(self.existing(parsed.key), parsed)
        return action

    def create(self, parsed: ParsedRow) -> Any:
        raise NotImplementedError

    def update(self, obj: Any, parsed: ParsedRow) -> Any:
        raise NotImplementedError

    def errors_from_domain(self, exc: DomainError) -> dict[str, list[str]]:
        """A service's refusal as row errors, each field error under the column it came from."""
        errors: dict[str, list[str]] = {}
        for name, messages in (exc.detail or {}).items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                column = self.field_columns.get(name, name)
                if column in self.columns:
                    errors.setdefault(column, []).append(str(message))
                else:
                    prefix = "" if name in (ROW, "non_field_errors") else f"{name}: "
                    errors.setdefault(ROW, []).append(f"{prefix}{message}")
        return errors or {ROW: [exc.message]}

    # ---- export
    def base_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def export_queryset(self) -> QuerySet[Any]:
        return scope_queryset(self.base_queryset(), self.user)

    def to_row(self, obj: Any) -> dict[str, str]:
        raise NotImplementedError

    def export_rows(self, queryset: QuerySet[Any]) -> Iterator[dict[str, str]]:
        for obj in queryset:
            yield self.to_row(obj)


_REGISTRY: dict[str, type[CsvSchema]] = {}


def register(schema: type[CsvSchema]) -> type[CsvSchema]:
    """Class decorator: make ``schema`` available under its ``kind``."""
    existing = _REGISTRY.get(schema.kind)
    if existing is not None and existing.__qualname__ != schema.__qualname__:
        raise ValueError(f"CSV kind {schema.kind!r} is already registered by {existing.__qualname__}")
    _REGISTRY[schema.kind] = schema
    return schema


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def schema_for(kind: str, user: Any) -> CsvSchema:
    schema = _REGISTRY.get(kind)
    if schema is None:
        raise UnknownCsvKind(detail={"kind": [f"Use one of: {', '.join(kinds())}."]})
    return schema(user)


# --------------------------------------------------------------------------------------------- reading


class _FileRejected(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors)


class _RolledBack(Exception):
    """Raised inside the transaction to undo it (a dry run, or a file with errors), caught outside."""


def _decode(file_text: str | bytes) -> str:
    if isinstance(file_text, str):
        return file_text.removeprefix("\ufeff")
    try:
        return file_text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _FileRejected([
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read); save it as 'CSV UTF-8'."
        ]) from exc


def _read(text: str, schema: CsvSchema) -> list[tuple[int, dict[str, str]]]:
    """The file's data rows as ``(first line number, {column: cell})``; file-level problems raise."""
    if not text.strip():
        raise _FileRejected(["The file is empty."])
    first_line = text.lstrip("\r\n").splitlines()[0]
    if "," not in first_line:
        for delimiter, name in _OTHER_DELIMITERS.items():
            if delimiter in first_line:
                raise _FileRejected([f"The file is separated by {name}, not commas; save it as comma-separated CSV."])
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header: list[str] | None = None
        previous_line = 0
        for cells in reader:
            start, previous_line = previous_line + 1, reader.line_num
            if not cells or all(not cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                _check_header(header, schema)
                continue
            if len(rows) >= MAX_ROWS:
                raise _FileRejected([f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."])
            if len(cells) != len(header):
                rows.append((start, {"__width__": f"Expected {len(header)} values, found {len(cells)}."}))
                continue
            rows.append((start, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise _FileRejected([f"Line {reader.line_num}: the file is not valid CSV ({exc})."]) from exc
    if header is None:
        raise _FileRejected(["The file is empty."])
    if not rows:
        raise _FileRejected(["The file has a header but no data rows."])
    return rows


def _check_header(header: list[str], schema: CsvSchema) -> None:
    errors = []
    duplicated = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in schema.columns if name not in header]
    unknown = [name for name in header if name not in schema.columns]
    if missing:
        errors.append(f"Missing column(s): {', '.join(missing)}.")
    if unknown:
        errors.append(f"Unknown column(s): {', '.join(unknown)}.")
    if duplicated:
        errors.append(f"Repeated column(s): {', '.join(duplicated)}.")
    if errors:
        errors.append(f"The {schema.kind} layout is: {','.join(schema.columns)}.")
        raise _FileRejected(errors)


# --------------------------------------------------------------------------------------------- import / export


def import_csv(kind: str, file_text: str | bytes, user: Any, dry_run: bool = False,
               progress: Progress | None = None) -> ImportReport:
    """Validate and apply a CSV file of ``kind`` as ``user``; see the module docstring for the contract.

    ``progress(rows_done)`` is called every ``PROGRESS_EVERY`` rows from inside the import's
    transaction, so it must write through a connection of its own (``erp.csv_jobs``) to be seen.

    Raises ``UnknownCsvKind`` for an unknown kind and ``PermissionDenied`` when the user's role
    may not add and change the kind's model; every other problem is in the returned report.
    """
    schema = schema_for(kind, user)
    if not schema.may_import():
        raise PermissionDenied(f"Your role may not import {kind}.")
    report = ImportReport(kind=kind, dry_run=dry_run)
    try:
        records = _read(_decode(file_text), schema)
    except _FileRejected as exc:
        report.file_errors = exc.errors
        return report

    def apply_all() -> None:
        schema.reset()
        report.rows = _apply_rows(schema, records, progress)
        if dry_run or not report.ok:
            raise _RolledBack()

    try:
        run_command(apply_all, actor=user)
    except _RolledBack:
        return report
    report.applied = True
    return report


def _apply_rows(schema: CsvSchema, records: list[tuple[int, dict[str, str]]],
                progress: Progress | None = None) -> list[RowResult]:
    """Parse and apply every row inside the caller's transaction; each row's writes sit in a savepoint.

    A row's errors are all reported together: every invalid cell, and a repeated natural key beside them.
    """
    results: list[RowResult] = []
    first_seen: dict[tuple[str, ...], int] = {}
    with joined_command():
        schema.preload([schema.key_of(row) for _, row in records if "__width__" not in row])
        for number, (line, row) in enumerate(records, start=1):
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
            if "__width__" in row:
                results.append(RowResult(line=line, key="", errors={ROW: [row["__width__"]]}))
                continue
            key = schema.key_of(row)
            result = RowResult(line=line, key="/".join(key))
            results.append(result)
            repeated = all(key) and key in first_seen
            if repeated:
                result.errors = {schema.natural_key[-1]: [
                    f"{result.key} appears more than once in the file (first on line {first_seen[key]})."
                ]}
            first_seen.setdefault(key, line)
            try:
                parsed = schema.parse_row(row)
            except RowInvalid as exc:
                for column, messages in exc.errors.items():
                    result.errors.setdefault(column, []).extend(messages)
                continue
            if repeated:
                continue
            result.action = schema.plan(parsed)
            if result.action == "unchanged":
                continue
            try:
                with transaction.atomic():
                    schema.apply(parsed)
            except RowInvalid as exc:
                result.errors = exc.errors
            except DomainError as exc:
                result.errors = schema.errors_from_domain(exc)
            except ProtectedError as exc:
                result.errors = {ROW: [f"Cannot remove what other records still use ({exc.args[0]})."]}
            except (IntegrityError, DataError) as exc:
                # Which field and why, in words: never the constraint's name (``erp.constraints``).
                result.errors = {(name if name in schema.columns else ROW): messages
                                 for name, messages in constraints.explain(exc).items()}
    return results


def export_count(kind: str, user: Any) -> int:
    """How many rows ``export_csv`` would write for ``user`` (to choose between now and a background job)."""
    schema = schema_for(kind, user)
    if not schema.may_export():
        raise PermissionDenied(f"Your role may not view {kind}.")
    return schema.export_queryset().count()


def export_csv(kind: str, user: Any, progress: Progress | None = None) -> str:
    """The rows of ``kind`` that ``user`` may see, in the layout ``import_csv`` reads."""
    schema = schema_for(kind, user)
    if not schema.may_export():
        raise PermissionDenied(f"Your role may not view {kind}.")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(schema.columns))
    writer.writeheader()
    for number, row in enumerate(schema.export_rows(schema.export_queryset()), start=1):
        writer.writerow(row)
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number)
    return out.getvalue()


def count_data_rows(file_text: str | bytes) -> int:
    """A quick upper bound of a file's data rows (non-blank lines after the header), to size the work."""
    text = file_text.decode("utf-8", errors="replace") if isinstance(file_text, bytes) else file_text
    return max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)
