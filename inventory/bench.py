"""The figures ``make bench`` prints (docs: quality-bars.md): the ``pgbench -N`` baseline, W2 and W3.

Runs against the database of ``manage.py`` (the embedded development database unless
``DATABASE_URL`` says otherwise), never a test database: seeding scales the demo network up to
``skus`` bench items (``BENCH-00001`` ...) with opening stock in every warehouse, idempotently, and
W3 posts real adjustments (+1 per line) to those items.

W2 calls the availability viewset and a no-op authenticated view through the same machinery
(``RequestFactory`` + ``force_authenticate`` + rendering), so the difference is the endpoint's own cost.
"""

from __future__ import annotations

import gc
import math
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import force_authenticate
from rest_framework.views import APIView

from erp import embedded
from inventory import selectors, services, stock
from inventory.api.availability import AvailabilityViewSet
from inventory.models import Item, ItemUom, ItemWarehouseSummary, ReasonCode, ReasonCodeUse, StockBalance, StockMove
from warehouses.models import Location, Warehouse

PREFIX = "BENCH"
PGBENCH_DB = "concord_pgbench"
HOST = "127.0.0.1"
W2_SKUS = 50
W2_MAX_QUERIES = 3
W2_MAX_EXTRA_P99_MS = 10.0
W3_MAX_SECONDS = 0.5
W3_REPEATS = 5


class NoopView(APIView):
    """The no-op authenticated API view: authentication, permission, rendering and nothing else."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


# --- baseline: pgbench -N ------------------------------------------------------------------------------


def _pgbench_binary() -> str | None:
    if not embedded.configured():
        candidate = embedded.pg_bin_dir() / "pgbench"
        if candidate.exists():
            return str(candidate)
    return shutil.which("pgbench")


def _pg_args_env(database: str) -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["-h", str(db.get("HOST") or HOST), "-p", str(db.get("PORT") or 5432), "-U", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return [*args, database], env


def _pgbench_initialised() -> bool:
    """Create ``concord_pgbench`` when missing; True when it already holds pgbench's tables."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PGBENCH_DB])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{PGBENCH_DB}"')
            return False
    db = settings.DATABASES["default"]
    driver = connection.Database  # type: ignore[attr-defined]  # the driver module (psycopg2) behind the wrapper
    conn = driver.connect(dbname=PGBENCH_DB, user=db["USER"], password=db.get("PASSWORD") or "",
                          host=db.get("HOST") or HOST, port=db.get("PORT") or 5432)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('pgbench_history') IS NOT NULL")
            return bool(cursor.fetchone()[0])
    finally:
        conn.close()


def pgbench_tps(*, clients: int, seconds: int) -> tuple[float | None, str]:
    """``pgbench -N`` transactions per second against the same server, or ``None`` and why not."""
    binary = _pgbench_binary()
    if binary is None:
        return None, "pgbench not found"
    args, env = _pg_args_env(PGBENCH_DB)
    if not _pgbench_initialised():
        init = subprocess.run([binary, "-i", "-s", "1", "-q", *args], env=env, capture_output=True, text=True)
        if init.returncode:
            return None, f"pgbench -i failed: {init.stderr.strip()[-300:]}"
    run = subprocess.run([binary, "-N", "-c", str(clients), "-j", str(clients), "-T", str(seconds), *args],
                         env=env, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+)", run.stdout)
    if run.returncode or match is None:
        return None, f"pgbench failed: {(run.stderr or run.stdout).strip()[-300:]}"
    return float(match.group(1)), ""


# --- seeding -------------------------------------------------------------------------------------------


def bench_skus(count: int) -> list[str]:
    return [f"{PREFIX}-{n:05d}" for n in range(1, count + 1)]


def _stock_location(warehouse: Warehouse) -> Location:
    location = (Location.objects.filter(warehouse=warehouse, code__startswith="A-").order_by("code").first()
                or Location.objects.filter(warehouse=warehouse).order_by("code").first())
    if location is None:
        raise RuntimeError(f"warehouse {warehouse.code} has no location; load the demo first (make run)")
    return location


def seed(*, count: int) -> dict[str, int]:
    """Bench items and opening stock of every one of them in every warehouse (only what is missing)."""
    created = services.items_bulk_seed(count=count, actor=None, prefix=PREFIX)
    items = list(Item.objects.filter(sku__in=bench_skus(count)).order_by("sku"))
    opened = 0
    for warehouse in Warehouse.objects.order_by("code"):
        have = set(ItemWarehouseSummary.objects.filter(warehouse=warehouse, item__in=items)
                   .values_list("item_id", flat=True))
        location = _stock_location(warehouse)
        lines = [services.OpeningLine(item=item, location=location, quantity=Decimal(100 + index % 50),
                                      unit_cost=Decimal("2.50")) for index, item in enumerate(items)
                 if item.pk not in have]
        if lines:
            services.stock_opening_post(warehouse=warehouse, lines=lines,
                                        reference=f"Bench opening {warehouse.code}", actor=None)
            opened += len(lines)
    if created or opened:
        # Fresh statistics for what was just added: the first W2 right after a seed otherwise ran on the
        # planner's guesses for 60,000 new rows (autovacuum's ANALYZE comes later) and missed its p99 floor.
        _analyze(Item, ItemUom, ItemWarehouseSummary, StockBalance, StockMove)
    return {"items_created": created, "opening_lines": opened, "warehouses": Warehouse.objects.count()}


def _analyze(*models: type[Model]) -> None:
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")  # nosec B608 # a model's table name


# --- measuring -----------------------------------------------------------------------------------------


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    queries: int  # the most any measured call made


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]  # nearest rank


WARMUP_CALLS = 10


def _measure(call: Callable[[], Any], repeats: int) -> Timing:
    for _ in range(WARMUP_CALLS):  # warm up: the scope cache on the user, the permission cache, code paths
        call()
    gc.collect()  # the seeding's garbage is collected now, not inside a measured request
    times, queries = [], []
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured.captured_queries))
    return Timing(p50_ms=_percentile(times, 0.5), p99_ms=_percentile(times, 0.99), queries=max(queries))


def _render(view: Callable[..., Any], request: Any) -> Any:
    response = view(request)
    response.render()
    if response.status_code != 200:
        raise RuntimeError(f"{request.path} answered {response.status_code}: {response.content[:300]!r}")
    return response


def w2(*, user: Any, skus: list[str], requests: int) -> dict[str, Any]:
    factory = RequestFactory()
    availability = AvailabilityViewSet.as_view({"get": "list"})
    noop = NoopView.as_view()
    rng = random.Random(42)
    expected_rows = min(W2_SKUS, len(skus)) * Warehouse.objects.count()  # planner sees the whole network

    def availability_call() -> None:
        query: dict[str, list[str] | int] = {"sku": rng.sample(skus, min(W2_SKUS, len(skus))), "page_size": 500}
        request = factory.get("/api/v1/availability/", query, SERVER_NAME=HOST)
        force_authenticate(request, user=user)
        response = _render(availability, request)
        if response.data["count"] != expected_rows:
            raise RuntimeError(f"availability gave {response.data['count']} rows, not {expected_rows}")

    def noop_call() -> None:
        request = factory.get("/api/v1/noop/", SERVER_NAME=HOST)
        force_authenticate(request, user=user)
        _render(noop, request)

    result: dict[str, Any] = {"availability": _measure(availability_call, requests),
                              "noop": _measure(noop_call, requests)}

    # The full snapshot: every bench SKU in every warehouse, in pages of the selector's maximum.
    chunk = selectors.MAX_AVAILABILITY_SKUS
    rows = 0
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        for start in range(0, len(skus), chunk):
            rows += len(selectors.network_availability(user=user, skus=skus[start:start + chunk]))
        result["snapshot_s"] = time.perf_counter() - started
    result["snapshot_rows"] = rows
    result["snapshot_queries"] = len(captured.captured_queries)
    result["snapshot_chunks"] = -(-len(skus) // chunk)
    return result


def w3(*, skus: list[str], warehouse_code: str = "NE-BOS") -> dict[int, tuple[float, int]]:
    """Median wall time (s) and queries of posting a 500-line and a 5-line adjustment batch."""
    warehouse = Warehouse.objects.get(code=warehouse_code)
    location = _stock_location(warehouse)
    available = services.stock_status("available")
    reason = ReasonCode.objects.get(code="CORRECTION", applies_to=ReasonCodeUse.ADJUSTMENT)
    items = list(Item.objects.filter(sku__in=skus[:500]).order_by("sku"))
    out = {}
    for size in (5, 500):
        moves = [stock.MoveSpec(item=item, warehouse=warehouse, location=location, status=available,
                                   quantity=Decimal(1), reason=reason) for item in items[:size]]
        times, queries = [], []
        for _ in range(W3_REPEATS):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                services.stock_moves_post_command(moves=moves, reference_type="adjustment",
                                                  reference=f"Bench batch of {size}", actor=None)
                times.append(time.perf_counter() - started)
            queries.append(len(captured.captured_queries))
        out[len(moves)] = (statistics.median(times), max(queries))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0]).split(" ")[0]


def bench_user() -> Any:
    user = get_user_model().objects.filter(username="planner").first()
    if user is None:
        raise RuntimeError("the demo user planner is missing; load the demo first (make run)")
    return user
