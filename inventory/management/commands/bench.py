"""``make bench``: the pgbench baseline, W2 (availability) and W3 (posting) against the floors.

Seeds the database of ``manage.py`` (the development database) with bench items first; see
``inventory.bench``. Exits non-zero when a floor is missed.

Then the workloads of the apps above inventory (W1 in ``orders.bench``), which inventory may not import
(docs/architecture.md): an app's ``bench`` module with ``run(*, say, tps, options) -> floors missed`` (and
optionally ``add_arguments(parser)``) is found by app config, the way Django finds ``admin.py``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from importlib import import_module
from types import ModuleType
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.module_loading import module_has_submodule

from inventory import bench, selectors


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _app_benches() -> list[ModuleType]:
    """The other apps' ``bench`` modules that define ``run``, in INSTALLED_APPS order."""
    found = []
    for config in apps.get_app_configs():
        if config.name != "inventory" and module_has_submodule(config.module, "bench"):
            module = import_module(f"{config.name}.bench")
            if callable(getattr(module, "run", None)):
                found.append(module)
    return found


class Command(BaseCommand):
    help = "Benchmark W2 and W3 beside a pgbench -N baseline on the same PostgreSQL (seeds bench items)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--skus", type=int, default=10000, help="Bench SKUs to seed and read (default 10000).")
        parser.add_argument("--requests", type=int, default=200, help="Measured requests per view (default 200).")
        parser.add_argument("--clients", type=int, default=2, help="pgbench clients and threads (default 2).")
        parser.add_argument("--seconds", type=int, default=10, help="pgbench duration (default 10).")
        for module in _app_benches():
            if callable(getattr(module, "add_arguments", None)):
                module.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.settings_dict["NAME"].startswith("test_"):
            raise CommandError("refusing to seed a test database")
        if options["skus"] < 500:
            raise CommandError("--skus must be at least 500 (W3 posts 500 lines)")
        say = self.stdout.write
        say(f"Concord benchmark ({datetime.now():%Y-%m-%d %H:%M}) PostgreSQL {bench.server_version()}, "
            f"{os.cpu_count()} cores, database {connection.settings_dict['NAME']}")

        tps, why = bench.pgbench_tps(clients=options["clients"], seconds=options["seconds"])
        figure = f"{tps:,.0f} tps" if tps is not None else why
        say(f"P_upd  pgbench -N  {options['clients']} clients {options['seconds']} s: {figure}")

        started = time.perf_counter()
        seeded = bench.seed(count=options["skus"])
        say(f"seed   {options['skus']:,} SKUs x {seeded['warehouses']} warehouses: {seeded['items_created']:,} items "
            f"and {seeded['opening_lines']:,} opening lines added in {time.perf_counter() - started:.1f} s")

        skus = bench.bench_skus(options["skus"])
        failed = []
        result = bench.w2(user=bench.bench_user(), skus=skus, requests=options["requests"])
        avail, noop = result["availability"], result["noop"]
        ok_queries = avail.queries <= bench.W2_MAX_QUERIES
        ok_p99 = avail.p99_ms <= noop.p99_ms + bench.W2_MAX_EXTRA_P99_MS
        say(f"W2 availability {bench.W2_SKUS} SKUs x {seeded['warehouses']} warehouses, {options['requests']} "
            f"requests: p50 {avail.p50_ms:.1f} ms, p99 {avail.p99_ms:.1f} ms, {avail.queries} queries "
            f"(noop p50 {noop.p50_ms:.1f} ms, p99 {noop.p99_ms:.1f} ms, {noop.queries} queries)")
        say(f"   floor queries <= {bench.W2_MAX_QUERIES}: {_verdict(ok_queries)}; "
            f"floor p99 <= noop p99 + {bench.W2_MAX_EXTRA_P99_MS:.0f} ms: {_verdict(ok_p99)}")
        say(f"W2 full snapshot {len(skus):,} SKUs x {seeded['warehouses']} warehouses "
            f"({result['snapshot_rows']:,} rows, "
            f"{result['snapshot_chunks']} chunks of {selectors.MAX_AVAILABILITY_SKUS}): "
            f"{result['snapshot_s'] * 1000:.0f} ms, {result['snapshot_queries']} queries")
        failed += [name for name, ok in (("W2 queries", ok_queries), ("W2 p99", ok_p99)) if not ok]

        posted = bench.w3(skus=skus)
        (small_s, small_q), (large_s, large_q) = posted[5], posted[500]
        ok_time, ok_same = large_s <= bench.W3_MAX_SECONDS, large_q == small_q
        say(f"W3 adjustment batch, median of {bench.W3_REPEATS}: 500 lines {large_s * 1000:.0f} ms, {large_q} queries; "
            f"5 lines {small_s * 1000:.0f} ms, {small_q} queries")
        say(f"   floor 500 lines <= {bench.W3_MAX_SECONDS} s: {_verdict(ok_time)}; "
            f"floor same queries at 5 and 500: {_verdict(ok_same)}")
        failed += [name for name, ok in (("W3 time", ok_time), ("W3 queries", ok_same)) if not ok]

        for module in _app_benches():
            failed += module.run(say=say, tps=tps, options=options)

        if tps:
            say(f"ratios to P_upd: W2 {1000 / avail.p50_ms / tps:.3f} (requests/s at p50 per tps), "
                f"W3 500-line {500 / large_s / tps:.2f} (lines/s per tps)")
        say(f"memory peak RSS of this process: {bench.peak_rss_mb():.0f} MB")
        if failed:
            raise CommandError(f"floors missed: {', '.join(failed)}")
        say("all floors met")
