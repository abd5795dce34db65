"""W1 of quality-bars.md, printed by ``make bench``: confirming 5-line sales orders under concurrent clients.

In the service layer an *order* is a confirm: ``sales_order_confirm`` (promise and allocate) of a draft the
client took with ``sales_order_create`` before the common start, which is what the floor compares with
Saleor's ``allocate_stocks``. Over HTTP an order is what an integrator does to sell: POST the order, then
confirm it, so each costs both requests; the confirm is also timed on its own. Every order has 5 lines of 1 EA
of distinct bench items (``inventory.bench`` seeds them); every tenth order of each client has the hot SKU,
the first bench item, among its 5 lines. The customers all have NE-BOS as home warehouse, so the hot SKU at
NE-BOS is one summary row that every tenth confirm locks.

Two ways in, at each client count, each for a fixed time:

- the service layer: client processes forked from this one, each with its own interpreter and connection
  (as web and task workers are: threads of one interpreter would measure its GIL), calling the services as
  the demo integrator, with ``settings.DEBUG`` off (as in production: no query log);
- HTTP: a gunicorn started for the run in ``make run``'s shape (``erp.devserver``: 4 workers x 2 threads),
  with DEBUG off behind an assumed TLS proxy (``X-Forwarded-Proto: https``), driven by client threads over keep-alive
  connections with a token of the integrator: POST ``sales-orders/``, then POST ``sales-orders/{id}/confirm/``.

Beside each rate: ``pgbench -N`` at the same client count (the ratio is what the floor judges), p50 and p99
of an order and of its confirm, and errors: anything a client gets other than the created or confirmed
order. A deadlock or serialization failure is retried inside the command, so it must never show up there;
the deadlocks PostgreSQL detected (and the commands absorbed) during W1 are printed. Afterwards,
``check_order_invariants`` (each summary's allocated equals its open allocations, each line's its own)
and no summary allocated beyond its allocatable on-hand: zero oversell.

Stock: before a run the home warehouse is topped up by one batch adjustment, so the hot SKU has
``HOT_FREE`` free and every other bench item at least ``COLD_FREE_MIN``: W1 measures allocation, not
backorders. Orders stay confirmed (they hold stock); the next run's top-up makes up for them.

A Celery worker in ``make run``'s shape runs beside the whole of W1 (confirming queues nothing, but the top-up
is a stock arrival, which queues the allocation of backorders). Memory is the peak RSS (``VmHWM``) of the
gunicorn master and workers and of the Celery worker's processes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import multiprocessing
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection, connections
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext, override_settings

from erp import services as platform
from erp.actors import Actor
from erp.devserver import WEB_THREADS, WEB_WORKERS
from erp.models import ApiToken
from inventory import bench as stock_bench
from inventory import services as stock
from inventory.models import Item, ItemWarehouseSummary, ReasonCode, ReasonCodeUse
from inventory.stock import MoveSpec
from orders.models import Customer
from orders.services.sales import OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from warehouses.models import Location

LINES = 5
HOT_EVERY = 10  # one order in ten has the hot SKU
# The floors (issue 11): confirms/s per pgbench -N tps at the same client count, in the service layer and over
# HTTP (create + confirm). A count the table does not name is judged by the floor of the nearest count below it
# (none below: the smallest count's).
SERVICE_FLOORS = {2: 0.12, 4: 0.08}
HTTP_FLOORS = {2: 0.02}
MAX_CONFIRM_QUERIES = 15  # no more than before the stock core (issue 11), whatever the number of lines
# Default: W1 at 2 clients (one per core of the reference machine) and at 4 (twice as many clients as cores).
DEFAULT_CLIENTS = "2,4"
CUSTOMERS = ("C-NE-001", "C-NE-004")  # both at home at NE-BOS
USERNAME = "integrator"
HOT_FREE = Decimal(20000)
COLD_FREE_MIN = Decimal(50)
COLD_TOP_UP = Decimal(500)
WARMUP_ORDERS = 3  # in this process, before counting queries (the forked clients inherit what it warmed)
WEB_WARMUP_SECONDS = 1.0  # orders over HTTP before measuring: each web worker's first requests load code
# Drafts each service client takes before the start, per second of the run. A client that confirms them all
# before its time is up stops there, and its measured time ends with its last confirm: at about 300 confirms a
# second a client's service run is about 3 s of its 8 (the report prints how long); taking more drafts first
# would lengthen the bench by a draft's time for each.
PREPARED_PER_SECOND = 120
MAX_ERRORS_PER_CLIENT = 20  # a client stops after this many: the figure is failed anyway
HOST = "127.0.0.1"
API = "/api/v1/sales-orders/"


# --- the figures ---------------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]  # nearest rank


@dataclass
class Phase:
    """One way in at one client count: every completed order's time and its confirm's, and the errors."""

    way: str
    clients: int
    wall_s: float = 0.0
    order_s: list[float] = field(default_factory=list)
    confirm_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def orders(self) -> int:
        return len(self.order_s)

    @property
    def rate(self) -> float:
        return self.orders / self.wall_s if self.wall_s else 0.0

    def ms(self, which: str, fraction: float) -> float:
        return _percentile(getattr(self, f"{which}_s"), fraction) * 1000


@dataclass
class Result:
    phases: list[Phase]
    create_queries: int
    confirm_queries: int
    topped_up: int
    unmeasured_orders: int  # placed to warm up, not in any phase
    invariant_violations: list[str]
    over_allocated: int
    deadlocks: int | None
    web_rss_mb: dict[str, float]  # "master", "worker" (the largest worker)
    web_shape: str
    hot: str  # the hot SKU
    home: str  # the customers' home warehouse
    task_rss_mb: dict[str, float] = field(default_factory=dict)  # "master", "child" of the Celery worker


# --- the workload --------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What the clients order: the hot item, the other (cold) items, the customers and their addresses."""

    hot: Item
    cold: list[Item]
    customers: list[tuple[Customer, Any]]

    def items(self, rng: random.Random, client: int, number: int) -> list[Item]:
        if (client + number) % HOT_EVERY == 0:
            return [self.hot, *rng.sample(self.cold, LINES - 1)]
        return rng.sample(self.cold, LINES)

    def customer(self, client: int, number: int) -> tuple[Customer, Any]:
        return self.customers[(client + number) % len(self.customers)]


def make_plan(skus: list[str]) -> Plan:
    if len(skus) < LINES + 1:
        raise ValueError(f"W1 needs at least {LINES + 1} bench SKUs")
    items = {item.sku: item for item in Item.objects.filter(sku__in=skus)}
    missing = [sku for sku in skus if sku not in items]
    if missing:
        raise RuntimeError(f"bench items missing ({missing[0]} ...): seed them first (inventory.bench.seed)")
    customers = list(Customer.objects.select_related("home_warehouse").filter(code__in=CUSTOMERS).order_by("code"))
    if len(customers) != len(CUSTOMERS):
        raise RuntimeError(f"the demo customers {', '.join(CUSTOMERS)} are missing; load the demo first")
    homes = {customer.home_warehouse_id for customer in customers}
    if len(homes) != 1:
        raise RuntimeError("W1's customers must share one home warehouse (the hot SKU is one summary row)")
    return Plan(hot=items[skus[0]], cold=[items[sku] for sku in skus[1:]],
                customers=[(customer, customer.ship_tos.get(code="MAIN")) for customer in customers])


def top_up(plan: Plan) -> int:
    """Give the home warehouse ``HOT_FREE`` free of the hot item and ``COLD_FREE_MIN`` of each other item
    (one batch adjustment); return how many lines it posted."""
    home = plan.customers[0][0].home_warehouse
    location = (Location.objects.filter(warehouse=home, code__startswith="A-").order_by("code").first()
                or Location.objects.filter(warehouse=home).order_by("code").first())
    if location is None:
        raise RuntimeError(f"{home.code} has no location to top the bench stock up in: load the demo first")
    free = {item_id: on_hand - allocated for item_id, on_hand, allocated in ItemWarehouseSummary.objects.filter(
        warehouse=home, item__in=[plan.hot, *plan.cold]).values_list("item_id", "allocatable_on_hand", "allocated")}
    wanted = [(plan.hot, HOT_FREE - free.get(plan.hot.pk, Decimal(0)))]
    wanted += [(item, COLD_TOP_UP) for item in plan.cold if free.get(item.pk, Decimal(0)) < COLD_FREE_MIN]
    available = stock.stock_status("available")
    reason = ReasonCode.objects.get(code="CORRECTION", applies_to=ReasonCodeUse.ADJUSTMENT)
    moves = [MoveSpec(item=item, warehouse=home, location=location, status=available, quantity=quantity,
                            reason=reason) for item, quantity in wanted if quantity > 0]
    if moves:
        stock.stock_moves_post_command(moves=moves, reference_type="adjustment", reference="Bench W1 top-up",
                                       actor=None)
    return len(moves)


Client = Callable[[int], Callable[[int], float]]  # client number -> (order number -> its confirm's seconds)
# orders' seconds, confirms' seconds, errors, and the client's measured time (from the common start to its last order)
Outcome = tuple[list[float], list[float], list[str], float]


def _client_loop(n: int, make_client: Client, seconds: float, barrier: Any) -> Outcome:
    """One client: set up, wait for the common start, then place orders one after another for ``seconds``."""
    order_s: list[float] = []
    confirm_s: list[float] = []
    errors: list[str] = []
    measured = 0.0
    try:
        place = make_client(n)
        barrier.wait(timeout=60)
        start = time.perf_counter()
        deadline = start + seconds
        number = 0
        while time.perf_counter() < deadline and len(errors) < MAX_ERRORS_PER_CLIENT:
            started = time.perf_counter()
            try:
                confirmed = place(number)
            except Exhausted:
                break
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                order_s.append(time.perf_counter() - started)
                confirm_s.append(confirmed)
            number += 1
        measured = time.perf_counter() - start
        finish = getattr(place, "finish", None)
        if finish is not None:  # after the measured time: tidy what the client left
            finish(number)
    except threading.BrokenBarrierError:
        errors.append(f"client {n} never started")
    except Exception as exc:
        errors.append(f"client {n}: {type(exc).__name__}: {exc}"[:300])
        barrier.abort()
    finally:
        connection.close()
    return order_s, confirm_s, errors, measured


def _in_process(n: int, make_client: Client, seconds: float, barrier: Any, results: Any) -> None:
    _forget_inherited_broker()
    results.put((n, _client_loop(n, make_client, seconds, barrier)))


def _settle_broker_before_fork() -> None:
    """Close this process's Celery connection pool (and let the app make a new one on use) before forking: a
    pooled connection may be waiting on a BRPOP (an in-process worker used it), and the forked child's
    after-fork cleanup would then wait for a reply its parent reads. Closing here, in the process whose view of
    the socket is true, finishes that read; the producer pools (publishing only) are left alone."""
    from erp.celery import app as celery_app

    pool = celery_app._pool  # type: ignore[attr-defined]  # Celery's connection pool is private; the fork needs it closed (docstring)
    if pool is not None:
        pool.force_close_all()
        celery_app._pool = None  # type: ignore[attr-defined]  # Celery's connection pool is private; the fork needs it closed (docstring)


def _forget_inherited_broker() -> None:
    """In a forked client: drop the broker connections and pools inherited from the parent without closing them
    (they are the parent's sockets too), so this process opens its own on first use. A child publishing on its
    parent's socket (the top-up's stock arrival queued a Celery task before the fork) reads replies meant for
    the other process and waits for ever."""
    from kombu import pools as kombu_pools

    from erp.celery import app as celery_app

    celery_app._pool = None  # type: ignore[attr-defined]  # Celery's connection pool is private; the fork needs it closed (docstring)
    for group in kombu_pools._groups:  # type: ignore[attr-defined]  # kombu keeps its pool groups private; forgotten after a fork
        group.clear()
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def _drive(way: str, clients: int, seconds: float, make_client: Client, *, processes: bool) -> Phase:
    """Run ``clients`` clients for ``seconds`` from a common start: forked processes (each its own
    interpreter and connection, as web or task workers are) or threads of this process."""
    phase = Phase(way=way, clients=clients)
    outcomes: list[Outcome] = []
    if processes:
        _settle_broker_before_fork()
        connections.close_all()  # a child must open its own connection, never share the parent's socket
        context = multiprocessing.get_context("fork")
        barrier: Any = context.Barrier(clients + 1)
        results = context.SimpleQueue()
        workers: list[Any] = [context.Process(target=_in_process, args=(n, make_client, seconds, barrier, results),
                                              name=f"w1-{way}-{n}") for n in range(clients)]
    else:
        barrier = threading.Barrier(clients + 1)
        lock = threading.Lock()

        def in_thread(n: int) -> None:
            outcome = _client_loop(n, make_client, seconds, barrier)
            with lock:
                outcomes.append(outcome)

        workers = [threading.Thread(target=in_thread, args=(n,), name=f"w1-{way}-{n}") for n in range(clients)]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    if processes:
        deadline = time.monotonic() + seconds + 120
        while len(outcomes) < clients and time.monotonic() < deadline:
            if not results.empty():
                outcomes.append(results.get()[1])
            elif not any(worker.is_alive() for worker in workers) and results.empty():
                break
            else:
                time.sleep(0.01)
    for worker in workers:
        worker.join(timeout=max(1.0, seconds + 120 - (time.perf_counter() - started)))
    phase.wall_s = time.perf_counter() - started
    if outcomes and all(outcome[3] > 0 for outcome in outcomes):
        phase.wall_s = max(outcome[3] for outcome in outcomes)  # the measured window, not the tidying after it
    for order_s, confirm_s, errors, _ in outcomes:
        phase.order_s += order_s
        phase.confirm_s += confirm_s
        phase.errors += errors
    if len(outcomes) < clients or any(worker.is_alive() for worker in workers):
        phase.errors.append(f"{clients - len(outcomes)} client(s) hung or died without a result")
        for worker in workers:
            if processes and worker.is_alive():
                worker.kill()
    return phase


class Exhausted(Exception):
    """A service client confirmed every draft it prepared before the time was up."""


def _service_client(plan: Plan, actor: Actor, prepared: int = 0) -> Client:
    """Service clients confirm drafts they took before the common start (``prepared`` each): the rate is of
    confirming, the step that promises and allocates (what Saleor's ``allocate_stocks`` figure times). With
    ``prepared`` 0 a client takes each order and confirms it in turn (the warm-up and the query count)."""

    def make(n: int) -> Callable[[int], float]:
        rng = random.Random(1000 + n)

        def take(number: int) -> Any:
            customer, ship_to = plan.customer(n, number)
            lines = [OrderLineSpec(item=item, quantity=Decimal(1), uom="EA") for item in plan.items(rng, n, number)]
            return sales_order_create(customer=customer, ship_to=ship_to, lines=lines, actor=actor)

        drafts = [take(number) for number in range(prepared)]

        def place(number: int) -> float:
            if prepared and number >= len(drafts):
                raise Exhausted
            order = drafts[number] if prepared else take(number)
            started = time.perf_counter()
            sales_order_confirm(order=order, actor=actor)
            return time.perf_counter() - started

        def finish(used: int) -> None:
            """Cancel the drafts the time did not reach: the bench leaves no draft behind."""
            for order in drafts[used:]:
                sales_order_cancel(order=order, actor=actor)

        place.finish = finish  # type: ignore[attr-defined]  # a function object carries its own tidy-up, read with getattr
        return place

    return make


def _count_queries(plan: Plan, actor: Actor) -> tuple[int, int]:
    """Queries of creating and of confirming one 5-line order (after a warm-up), in this thread."""
    place = _service_client(plan, actor)(0)
    for number in range(1, WARMUP_ORDERS):
        place(number)
    customer, ship_to = plan.customer(0, 1)
    lines = [OrderLineSpec(item=item, quantity=Decimal(1), uom="EA") for item in plan.items(random.Random(7), 0, 1)]
    with CaptureQueriesContext(connection) as created:
        order = sales_order_create(customer=customer, ship_to=ship_to, lines=lines, actor=actor)
    with CaptureQueriesContext(connection) as confirmed:
        sales_order_confirm(order=order, actor=actor)
    return len(created), len(confirmed)


# --- HTTP ----------------------------------------------------------------------------------------------


class HttpError(Exception):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(str(db["USER"]), safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or HOST}:{db.get('PORT') or 5432}/{quote(str(db['NAME']))}"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _peak_rss_mb(pid: int) -> float:
    """The peak resident set of a live process (``VmHWM``), in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


@dataclass
class WebServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def peak_rss_mb(self) -> dict[str, float]:
        workers = [_peak_rss_mb(pid) for pid in _children(self.process.pid)]
        return {"master": _peak_rss_mb(self.process.pid), "worker": max(workers, default=math.nan)}


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: Any, token: str | None,
             ) -> tuple[int, bytes]:
    headers = {"X-Forwarded-Proto": "https", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


@contextlib.contextmanager
def web_server(*, workers: int = WEB_WORKERS, threads: int = WEB_THREADS) -> Iterator[WebServer]:
    """A gunicorn on a free loopback port serving this database, DEBUG off; stopped on leaving."""
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, DEBUG="0",
               SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50))
    log = Path(tempfile.mkstemp(prefix="concord-w1-gunicorn-", suffix=".log")[1])
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "erp.wsgi:application", "--bind", f"{HOST}:{port}",
             "--workers", str(workers), "--threads", str(threads), "--graceful-timeout", "5"],
            cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = WebServer(port=port, process=process, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up: {log.read_text()[-1500:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                status, _ = _request(conn, "GET", "/healthz", None, None)
                conn.close()
                if status == 200:
                    break
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.unlink(missing_ok=True)


@contextlib.contextmanager
def task_worker() -> Iterator[Callable[[], dict[str, float]]]:
    """A Celery worker in ``make run``'s shape (prefork, 2 processes) on this database for the run: it serves
    what W1 queues (the top-up's stock arrival queues the allocation of backorders). Yields a reader of its
    peak RSS (``master`` and the largest ``child``)."""
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, DEBUG="0",
               SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50))
    log = Path(tempfile.mkstemp(prefix="concord-w1-celery-", suffix=".log")[1])
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "erp", "worker", "--concurrency", "2",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)

    def peak() -> dict[str, float]:
        children = [_peak_rss_mb(pid) for pid in _children(process.pid)]
        return {"master": _peak_rss_mb(process.pid), "child": max(children, default=math.nan)}

    try:
        yield peak
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.unlink(missing_ok=True)


def _http_client(plan: Plan, port: int, token: str) -> Client:
    def make(n: int) -> Callable[[int], float]:
        rng = random.Random(2000 + n)
        conn = http.client.HTTPConnection(HOST, port, timeout=120)

        def call(method: str, path: str, body: Any, expect: int) -> Any:
            nonlocal conn
            try:
                status, content = _request(conn, method, path, body, token)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
                raise
            if status != expect:
                raise HttpError(f"{method} {path} answered {status}: {content[:200].decode(errors='replace')}")
            return json.loads(content)

        def place(number: int) -> float:
            customer, ship_to = plan.customer(n, number)
            body = {"customer": customer.code, "ship_to": ship_to.code,
                    "lines": [{"sku": item.sku, "quantity": "1", "uom": "EA"}
                              for item in plan.items(rng, n, number)]}
            order = call("POST", API, body, 201)
            started = time.perf_counter()
            call("POST", f"{API}{order['id']}/confirm/", {}, 200)
            return time.perf_counter() - started

        return place

    return make


# --- the run -------------------------------------------------------------------------------------------


def _deadlocks() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _integrity() -> tuple[list[str], int]:
    """``check_order_invariants``'s violations, and how many summaries hold more than they may."""
    out, err = StringIO(), StringIO()
    try:
        call_command("check_order_invariants", stdout=out, stderr=err)
        violations = []
    except CommandError as exc:
        violations = err.getvalue().splitlines() or [str(exc)]
    over = ItemWarehouseSummary.objects.filter(Q(allocated__gt=F("allocatable_on_hand")) | Q(allocated__lt=0)).count()
    return violations, over


def w1(*, skus: list[str], clients: list[int], seconds: float, http_too: bool = True,
       service_processes: bool = True, web_workers: int = WEB_WORKERS, web_threads: int = WEB_THREADS) -> Result:
    """Run W1 on the bench items ``skus`` (the first is the hot SKU) at each client count, for ``seconds``
    per way and count. Commits real orders: never inside a test's transaction. ``service_processes`` False runs
    the service clients as threads of this process: for a process that cannot fork safely (a test session whose
    in-process Celery workers left broker connections mid-read); ``make bench`` forks."""
    actor = get_user_model().objects.filter(username=USERNAME).first()
    if actor is None:
        raise RuntimeError(f"the demo user {USERNAME} is missing; load the demo first")
    plan = make_plan(skus)
    with contextlib.ExitStack() as stack:
        task_rss = stack.enter_context(task_worker()) if http_too else None
        result = _w1_run(plan, actor, clients, seconds, http_too, web_workers, web_threads, service_processes)
        if task_rss is not None:
            result.task_rss_mb = task_rss()
    return result


def _w1_run(plan: Plan, actor: User, clients: list[int], seconds: float, http_too: bool, web_workers: int,
            web_threads: int, service_processes: bool) -> Result:
    topped_up = top_up(plan)
    deadlocks_before = _deadlocks()
    phases = []
    with override_settings(DEBUG=False):
        create_queries, confirm_queries = _count_queries(plan, actor)
        for count in clients:
            prepared = int(seconds * PREPARED_PER_SECOND)
            phases.append(_drive("service", count, seconds, _service_client(plan, actor, prepared),
                                 processes=service_processes))
    unmeasured = WARMUP_ORDERS
    rss: dict[str, float] = {}
    if http_too:
        token = platform.api_token_issue(user=actor, name="bench W1", actor=None)
        try:
            with web_server(workers=web_workers, threads=web_threads) as server:
                client = _http_client(plan, server.port, token)
                warmup = _drive("http warm-up", max(clients), WEB_WARMUP_SECONDS, client, processes=False)
                unmeasured += warmup.orders
                if warmup.errors:
                    phases.append(warmup)  # reported with its errors; its rate means nothing
                for count in clients:
                    phases.append(_drive("http", count, seconds, client, processes=False))
                rss = server.peak_rss_mb()
        finally:
            issued = ApiToken.objects.get(digest=ApiToken.digest_of(token))
            platform.api_token_revoke(token_id=issued.pk, actor=actor)
    deadlocks_after = _deadlocks()
    violations, over = _integrity()
    return Result(phases=phases, create_queries=create_queries, confirm_queries=confirm_queries,
                  topped_up=topped_up, unmeasured_orders=unmeasured, invariant_violations=violations,
                  over_allocated=over,
                  deadlocks=None if deadlocks_before is None or deadlocks_after is None
                  else deadlocks_after - deadlocks_before,
                  web_rss_mb=rss, web_shape=f"{web_workers} workers x {web_threads} threads",
                  hot=plan.hot.sku, home=plan.customers[0][0].home_warehouse.code)


# --- ``manage.py bench`` -------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def floor_for(floors: dict[int, float], clients: int) -> float | None:
    """The floor of ``clients``: its own, else the nearest count's below it, else the smallest count's."""
    if not floors:
        return None
    below = [count for count in floors if count <= clients]
    return floors[max(below)] if below else floors[min(floors)]


def report(result: Result, baselines: dict[int, float | None], say: Callable[[str], None]) -> list[str]:
    """Print W1's figures beside ``baselines`` (pgbench -N tps per client count); return the floors missed."""
    failed = []
    say(f"W1 confirm {LINES}-line orders (service: confirming drafts taken beforehand; http: create + confirm), "
        f"1 in {HOT_EVERY} with the hot SKU "
        f"{result.hot}, customers {', '.join(CUSTOMERS)} (home {result.home}); {result.topped_up} item(s) "
        f"topped up first")
    ok_queries = result.confirm_queries <= MAX_CONFIRM_QUERIES
    say(f"   queries per order: create {result.create_queries}, confirm {result.confirm_queries} "
        f"({result.create_queries + result.confirm_queries} in all); floor confirm <= {MAX_CONFIRM_QUERIES}: "
        f"{_verdict(ok_queries)}")
    if not ok_queries:
        failed.append("W1 confirm queries")
    for phase in result.phases:
        tps = baselines.get(phase.clients)
        ratio = f", ratio to P_upd ({tps:,.0f} tps) {phase.rate / tps:.4f}" if tps else ", no P_upd baseline"
        say(f"W1 {phase.way:<7} {phase.clients} clients {phase.wall_s:.1f} s: {phase.orders:,} orders, "
            f"{phase.rate:,.1f} orders/s{ratio}; order p50 {phase.ms('order', 0.5):.1f} ms "
            f"p99 {phase.ms('order', 0.99):.1f} ms, confirm p50 {phase.ms('confirm', 0.5):.1f} ms "
            f"p99 {phase.ms('confirm', 0.99):.1f} ms; errors {len(phase.errors)}")
        for error in sorted(set(phase.errors))[:5]:
            say(f"      error: {error}")
        floor = floor_for({"service": SERVICE_FLOORS, "http": HTTP_FLOORS}.get(phase.way, {}), phase.clients)
        if phase.way == "http" and phase.clients not in HTTP_FLOORS:
            floor = None  # over HTTP only the counts the table names are judged
        if floor is not None and tps:
            ok = phase.rate >= floor * tps
            say(f"   floor {phase.way} >= {floor} x P_upd ({floor * tps:,.0f} orders/s): {_verdict(ok)}")
            if not ok:
                failed.append(f"W1 {phase.way} {phase.clients} clients")
    errors = sum(len(phase.errors) for phase in result.phases)
    oversold = bool(result.invariant_violations) or result.over_allocated > 0
    deadlocks = "unknown" if result.deadlocks is None else str(result.deadlocks)
    say(f"W1 integrity: check_order_invariants {len(result.invariant_violations)} violation(s), "
        f"{result.over_allocated} summaries allocated beyond their allocatable on-hand; "
        f"deadlocks detected by PostgreSQL and retried: {deadlocks}")
    for line in result.invariant_violations[:5]:
        say(f"      {line}")
    say(f"   floor zero oversell: {_verdict(not oversold)}; floor no error reaches a client: {_verdict(not errors)}")
    failed += [name for name, bad in (("W1 oversell", oversold), ("W1 client errors", errors)) if bad]
    if result.web_rss_mb:
        say(f"W1 memory peak RSS: gunicorn master {result.web_rss_mb['master']:.0f} MB, largest web worker "
            f"{result.web_rss_mb['worker']:.0f} MB ({result.web_shape})")
    if result.task_rss_mb:
        say(f"W1 memory peak RSS: Celery worker master {result.task_rss_mb['master']:.0f} MB, largest child "
            f"{result.task_rss_mb['child']:.0f} MB (prefork, 2 processes; it served the backorder allocation the "
            f"top-up's stock arrival queued)")
    return failed


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("--w1-clients", default=DEFAULT_CLIENTS,
                        help=f"W1 client counts, comma-separated (default {DEFAULT_CLIENTS}); pgbench -N runs at "
                             "each count other than --clients.")
    parser.add_argument("--w1-seconds", type=float, default=8.0,
                        help="W1 duration per way and client count (default 8).")
    parser.add_argument("--w1-no-http", action="store_true", help="W1 in the service layer only.")


def run(*, say: Callable[[str], None], tps: float | None, options: dict[str, Any]) -> list[str]:
    """W1 for ``manage.py bench``, after the inventory workloads (the bench items are seeded): ``tps`` is
    P_upd at ``options["clients"]``; other client counts get their own pgbench run. Returns the floors missed."""
    wanted = options.get("w1_clients") or DEFAULT_CLIENTS
    counts = sorted({int(part) for part in str(wanted).split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise CommandError("--w1-clients needs client counts of at least 1")
    baselines: dict[int, float | None] = {options["clients"]: tps}
    for count in counts:
        if count not in baselines:
            baselines[count], why = stock_bench.pgbench_tps(clients=count, seconds=options["seconds"])
            figure = f"{baselines[count]:,.0f} tps" if baselines[count] is not None else why
            say(f"P_upd  pgbench -N  {count} clients {options['seconds']} s: {figure}")
    result = w1(skus=stock_bench.bench_skus(options["skus"]), clients=counts, seconds=options["w1_seconds"],
                http_too=not options["w1_no_http"])
    return report(result, baselines, say)
