"""Faults (quality-bars.md): a Celery worker killed mid-task, and PostgreSQL stopped abruptly under load.

**A worker killed.** A real Celery worker, a separate process, is killed with SIGKILL mid-task; after a restart
each effect has happened exactly once. The worker is ``celery -A tests.fault_workers worker`` (Concord's app on a
queue of the test's own) with the test database's settings in its environment; the data it works on is committed
(``transactional_db``). It is killed at a known point without any hook in product code:

- backorders: the test holds a row lock on one backordered order, so the worker serves the orders before it
  (each its own transaction) and then waits inside that order's transaction, where it is killed;
- notifications: the worker's mail backend (``tests.fault_workers.PausingFileBackend``) stops dead right after
  writing an email, before the sender records it as sent, where it is killed.

Two ways to die: the pool's child alone (the worker's main process sees it lost and, with
``CELERY_TASK_ACKS_LATE`` and ``CELERY_TASK_REJECT_ON_WORKER_LOST``, gives the task to a new child), and the main
process with its child. In the second case Redis keeps the unacknowledged message for the broker's visibility
timeout (an hour), so what finishes the work after the restart is what beat would run: the backorder sweep and
the notification relay.

**PostgreSQL stopped.** The embedded PostgreSQL is stopped in immediate mode (as a crash: no checkpoint, every
connection cut) in the middle of a burst of order confirms over HTTP against a real gunicorn, and started again
two seconds later. Clients only ever see the confirmed order, 409 (already confirmed), or a 503
``database_unavailable`` in the API's error shape with Retry-After; the same gunicorn and the same Celery worker
serve again afterwards without being restarted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Sum
from django.utils import timezone

from erp import embedded
from erp import services as platform
from governance.models import Notification
from inventory import services as stock
from inventory.models import ItemWarehouseSummary
from inventory.tests.factories import ensure_standard_statuses, item, location, warehouse
from orders import bench
from orders.models import Allocation, AllocationStatus, Customer, OrderStatus, SalesOrder, SalesOrderLine
from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
from tests import fault_workers
from tests.clock import WEDNESDAY_10AM

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

D = Decimal
WAIT = 60  # seconds any one step may take on a loaded 2-core machine


# --- a real worker, a separate process ---------------------------------------------------------------


def _database_env() -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=bench._database_url(), REDIS_URL=settings.REDIS_URL, DEBUG="0",
                SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50))


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        return bench._children(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def celery_worker(queue: str, **env: str) -> Iterator[Worker]:
    """A prefork worker of one process serving ``queue``, up and answering when yielded; gone on leaving."""
    log = Path(tempfile.mkstemp(prefix="concord-faults-celery-", suffix=".log")[1])
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "tests.fault_workers", "worker", "--pool", "prefork",
             "--concurrency", "1", "-Q", queue, "-n", f"{queue}-{secrets.token_hex(2)}@%h", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR, env={**_database_env(), fault_workers.QUEUE_ENV: queue, **env},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    worker = Worker(process=process, log=log)
    try:
        yield worker
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with contextlib.suppress(ProcessLookupError):  # a child orphaned by a killed main process
            os.killpg(process.pid, signal.SIGKILL)
        log.unlink(missing_ok=True)


def send(queue: str, task: str, **kwargs: Any) -> Any:
    from erp.celery import app

    return app.send_task(task, kwargs=kwargs, queue=queue)


def drained(queue: str) -> None:
    """Return once the worker on ``queue`` (one process, FIFO) has run everything queued before this call."""
    assert send(queue, "erp.ping").get(timeout=WAIT) == "pong"


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def until(condition: Callable[[], Any], what: str, worker: Worker | None = None) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}" + (f"; worker log:\n{worker.output()}" if worker else ""))


@contextlib.contextmanager
def routed(task: str, queue: str) -> Iterator[None]:
    """What this process queues of ``task`` goes to ``queue`` (as the stock arrival's signal queues it)."""
    from celery.app.routes import MapRoute, Router

    from erp.celery import app

    usual = app.amqp.router
    app.amqp.router = Router((MapRoute({task: {"queue": queue}}), *app.amqp.routes), app.amqp.queues, True, app=app)
    try:
        yield
    finally:
        app.amqp.router = usual


class RowLock:
    """A row locked FOR UPDATE by a connection of its own, until ``release``."""

    def __init__(self, table: str, pk: int) -> None:
        db = connection.settings_dict
        self.conn = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
                                     host=db["HOST"], port=db["PORT"] or None)
        with self.conn.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])
            assert cursor.fetchone() == (1,)

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def waiting_on_a_lock() -> int:
    """How many sessions of this database wait for a lock (a worker stopped at the test's row lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return int(cursor.fetchone()[0])


def invariants_hold() -> None:
    call_command("check_inventory_invariants")
    call_command("check_order_invariants")


# --- 1. backorder allocation -----------------------------------------------------------------------------


ORDERS, EACH, ARRIVING = 12, D(2), D(20)  # the arrival serves the ten oldest orders; two stay backordered


def _backordered(twin: Any) -> list[SalesOrder]:
    buyer = Customer.objects.get(code="C-NE-001")
    ship_to = buyer.ship_tos.get(code="MAIN")
    orders = []
    for _ in range(ORDERS):
        draft = sales_order_create(customer=buyer, ship_to=ship_to, actor=None,
                                   lines=[OrderLineSpec(item=twin, quantity=EACH, uom="EA")])
        orders.append(sales_order_confirm(order=draft, actor=None, now=WEDNESDAY_10AM))
    assert {order.status for order in orders} == {OrderStatus.BACKORDERED}
    return orders


def _served(orders: list[SalesOrder]) -> int:
    """How many of ``orders`` have their backorder allocated (the worker's committed work)."""
    return SalesOrderLine.objects.filter(order__in=orders, backordered_quantity=0).count()


def test_backorders_allocated_by_a_worker_killed_twice_mid_task_are_each_allocated_exactly_once(demo):
    ensure_standard_statuses()
    twin = item("CLN-0011")
    orders = sorted(_backordered(twin), key=lambda order: order.pk)  # served oldest first: confirmed together
    queue = f"faults-backorders-{secrets.token_hex(4)}"

    with celery_worker(queue) as first, routed("orders.backorders_allocate", queue):
        fifth = RowLock("orders_salesorder", orders[4].pk)
        # The arrival queues the allocation after its commit, as in production (a stock-raised signal).
        stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                            quantity=ARRIVING, uom="EA", unit_cost=D(2), reference="faults", actor=None)
        until(lambda: _served(orders) == 4 and waiting_on_a_lock(), "four orders are served and the fifth waits",
              first)
        (child,) = first.children()
        kill(child)  # mid-task and mid-transaction: the fifth order's, its stock rows locked

        ninth = RowLock("orders_salesorder", orders[8].pk)
        fifth.release()
        # The main process saw its child lost and gave the task to a new child, which starts it over.
        until(lambda: _served(orders) == 8 and waiting_on_a_lock(), "the redelivered task waits at the ninth", first)
        (second_child,) = first.children()
        assert second_child != child
        kill(second_child)
        kill(first.pid)  # now the whole worker: the message stays unacknowledged in Redis
        first.process.wait(timeout=WAIT)
        ninth.release()
    assert _served(orders) == 8

    with celery_worker(queue) as restarted:
        send(queue, "orders.backorders_allocate")  # beat's sweep, every backorder
        drained(queue)
        send(queue, "orders.backorders_allocate", item_ids=[twin.pk])  # the lost message, when Redis restores it
        drained(queue)
        assert restarted.process.poll() is None

    lines = {line.order_id: line for line in SalesOrderLine.objects.filter(order__in=orders)}
    for order in orders[:10]:
        line = lines[order.pk]
        assert (line.allocated_quantity, line.backordered_quantity, line.status) == (EACH, D(0), "allocated")
        (allocation,) = Allocation.objects.filter(line=line)  # one allocation per line: none doubled
        assert (allocation.quantity, allocation.status, allocation.warehouse.code) == (EACH, "open", "NE-BOS")
    for order in orders[10:]:
        line = lines[order.pk]
        assert (line.allocated_quantity, line.backordered_quantity) == (D(0), EACH)
        assert not Allocation.objects.filter(line=line).exists()
    held = Allocation.objects.filter(item=twin, status=AllocationStatus.OPEN).aggregate(total=Sum("quantity"))
    assert held["total"] == ARRIVING  # exactly what arrived: nothing allocated twice, nothing left over
    summaries = ItemWarehouseSummary.objects.filter(item=twin)
    assert {(s.warehouse.code, s.allocated, s.allocatable_on_hand) for s in summaries if s.on_hand or s.allocated} \
        == {("NE-BOS", ARRIVING, ARRIVING)}
    invariants_hold()


# --- 2. the notification outbox --------------------------------------------------------------------------


NOTIFICATIONS, PAUSE_AT = 6, 3


def test_notifications_relayed_to_a_worker_killed_between_sending_and_recording_are_each_sent_as_one_message(
        demo, tmp_path):
    Notification.objects.all().delete()  # the relay sends every unsent one: count only this test's
    created = timezone.now() - timedelta(minutes=10)  # past the relay's threshold: their send tasks were lost
    outbox = [Notification.objects.create(dedupe_key=f"faults:{n}", kind="test", subject=f"Fault test {n}",
                                          recipients=["owner@concord.example.com"], body=f"Notification {n}.",
                                          created_at=created + timedelta(seconds=n)) for n in range(NOTIFICATIONS)]
    mailbox = tmp_path / "mail"
    mailbox.mkdir()
    queue = f"faults-relay-{secrets.token_hex(4)}"
    mail_env = {"EMAIL_BACKEND": "tests.fault_workers.PausingFileBackend", fault_workers.MAIL_DIR_ENV: str(mailbox)}

    with celery_worker(queue, **mail_env, **{fault_workers.PAUSE_AT_ENV: str(PAUSE_AT)}) as first:
        send(queue, "governance.notifications_relay")
        until(lambda: (mailbox / fault_workers.PAUSED_MARKER).exists(), "the third email is written", first)
        (child,) = first.children()
        kill(child)  # after the email left, before the sender recorded it
        kill(first.pid)
        first.process.wait(timeout=WAIT)

    sent_before = {n.pk for n in Notification.objects.filter(pk__in=[n.pk for n in outbox], sent_at__isnull=False)}
    assert len(sent_before) == PAUSE_AT - 1
    (cut_short,) = Notification.objects.filter(pk__in=[n.pk for n in outbox], sent_at__isnull=True,
                                               claimed_at__isnull=False)
    assert len(fault_workers.emails(mailbox)) == PAUSE_AT

    with celery_worker(queue, **mail_env) as restarted:
        # The sends still queued run; the one in flight is with Redis for an hour: beat's relay queues it again.
        send(queue, "governance.notifications_relay")
        until(lambda: not Notification.objects.filter(pk__in=[n.pk for n in outbox], sent_at__isnull=True).exists(),
              "every notification is recorded as sent", restarted)
        send(queue, "governance.notifications_relay")  # a later beat run finds nothing to send
        drained(queue)

    notifications = {n.pk: n for n in Notification.objects.filter(pk__in=[n.pk for n in outbox])}
    copies: dict[str, list[Any]] = {}
    for message in fault_workers.emails(mailbox):
        copies.setdefault(message["Message-ID"], []).append(message)
    assert set(copies) == {n.message_id for n in notifications.values()}  # one Message-ID each, all sent
    for notification in notifications.values():
        assert notification.sent_at is not None and notification.last_error == ""
        messages = copies[notification.message_id]
        assert {(m["Subject"], m.get_payload().strip()) for m in messages} == {
            (notification.subject, notification.body)}
        if notification.pk == cut_short.pk:
            # Sent, then the worker died before recording it: sent again after the restart, as the same message.
            assert sorted(m["X-Concord-Attempt"] for m in messages) == ["1", "2"]
            assert notification.attempts == 2
        else:
            assert len(messages) == 1 and notification.attempts == 1
    invariants_hold()


# --- 3. PostgreSQL stopped abruptly during a burst of confirms -------------------------------------------


CLIENTS, ORDERS_EACH, IN_STOCK = 4, 15, D(30)  # 60 orders of 1 EA, 30 in stock: half of them backordered
STOP_AFTER = 8  # confirms answered before PostgreSQL is stopped
DOWN_SECONDS = 2.0


def _embedded_database() -> bool:
    """The tests' database is the embedded PostgreSQL of this checkout, which the test may stop and start."""
    return (os.environ.get("DATABASE_URL") == embedded.database_url()
            and (embedded._pg_dir() / "data" / "PG_VERSION").exists())


def _postgres_crash() -> None:
    """Stop the embedded PostgreSQL as a crash does: immediate mode, no shutdown checkpoint, connections cut."""
    subprocess.run([str(embedded._pg_bin("pg_ctl")), "stop", "-D", str(embedded._pg_dir() / "data"),
                    "-m", "immediate", "-w"], check=True, capture_output=True,
                   **embedded._run_as_pg_user())  # type: ignore[call-overload]  # the helper returns Popen keyword arguments as a plain dict


@dataclass
class Answer:
    status: int
    content_type: str
    retry_after: str | None
    body: bytes


def _confirm(port: int, token: str, order_id: int) -> Answer:
    conn = http.client.HTTPConnection(bench.HOST, port, timeout=30)
    try:
        conn.request("POST", f"{bench.API}{order_id}/confirm/", body=b"{}",
                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json",
                              "Accept": "application/json", "X-Forwarded-Proto": "https", "Connection": "close"})
        response = conn.getresponse()
        return Answer(response.status, response.getheader("Content-Type") or "", response.getheader("Retry-After"),
                      response.read())
    finally:
        conn.close()


def _clean_503(answer: Answer) -> bool:
    if answer.status != 503 or not answer.content_type.startswith("application/json") or not answer.retry_after:
        return False
    try:
        body = json.loads(answer.body)
    except ValueError:
        return False
    return set(body) == {"code", "message", "detail"} and body["code"] == "database_unavailable"


@pytest.mark.skipif(not _embedded_database(), reason="stops and starts PostgreSQL: only the embedded one of this "
                    "checkout (DATABASE_URL names another server)")
def test_postgres_stopped_mid_burst_of_confirms_gives_clean_503s_and_web_and_worker_serve_again(demo):
    ensure_standard_statuses()
    twin = item("CLN-0012")
    queue = f"faults-db-{secrets.token_hex(4)}"
    with routed("orders.backorders_allocate", queue):  # the arrival queues a (still idle) sweep of its backorders
        stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                            quantity=IN_STOCK, uom="EA", unit_cost=D(2), reference="faults", actor=None)
    buyer = Customer.objects.get(code="C-NE-001")
    ship_to = buyer.ship_tos.get(code="MAIN")
    drafts = [sales_order_create(customer=buyer, ship_to=ship_to, actor=None,
                                 lines=[OrderLineSpec(item=twin, quantity=D(1), uom="EA")]).pk
              for _ in range(CLIENTS * ORDERS_EACH)]
    token = platform.api_token_issue(user=get_user_model().objects.get(username="integrator"), name="faults",
                                     actor=None)
    answers: list[Answer] = []
    transport_errors: list[str] = []
    confirmed = threading.Semaphore(0)
    deadline = time.monotonic() + 75

    def client(order_ids: list[int], port: int) -> None:
        for order_id in order_ids:
            while time.monotonic() < deadline:
                try:
                    answer = _confirm(port, token, order_id)
                except (OSError, http.client.HTTPException) as exc:
                    transport_errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.2)
                    continue
                answers.append(answer)
                if answer.status == 503:
                    time.sleep(0.2)  # what Retry-After asks, sooner: the test has no time to lose
                    continue
                confirmed.release()
                break

    with celery_worker(queue) as worker, bench.web_server(workers=2, threads=2) as web:
        assert send(queue, "erp.ping").get(timeout=WAIT) == "pong"
        threads = [threading.Thread(target=client, args=(drafts[n::CLIENTS], web.port)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for _ in range(STOP_AFTER):
            assert confirmed.acquire(timeout=WAIT), "the burst did not get going"
        _postgres_crash()
        time.sleep(DOWN_SECONDS)
        embedded.start()  # crash recovery, then it accepts connections again
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads), "clients still waiting for an answer"
        connections.close_all()  # this process's connection died with the server too

        statuses = {answer.status for answer in answers}
        assert transport_errors == [], transport_errors[:5]
        assert statuses <= {200, 409, 503}, [a.body[:300] for a in answers if a.status not in (200, 409, 503)][:3]
        outage = [answer for answer in answers if answer.status == 503]
        assert outage, "no request met the outage"
        assert all(_clean_503(answer) for answer in outage), [(a.content_type, a.body[:300]) for a in outage][:3]
        assert web.process.poll() is None  # the same gunicorn, never restarted by hand

        orders = SalesOrder.objects.filter(pk__in=drafts)
        assert not orders.filter(status=OrderStatus.DRAFT).exists()  # every confirm took effect, once
        lines = SalesOrderLine.objects.filter(order__in=orders)
        assert lines.aggregate(total=Sum("allocated_quantity"))["total"] == IN_STOCK  # no oversell, none lost
        assert lines.filter(backordered_quantity=1).count() == len(drafts) - IN_STOCK

        # The worker, up through the outage, serves again: stock arriving queues the backorders to it.
        with routed("orders.backorders_allocate", queue):
            stock.stock_receive(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=twin,
                                quantity=D(len(drafts)) - IN_STOCK, uom="EA", unit_cost=D(2), reference="faults",
                                actor=None)
        until(lambda: not lines.filter(backordered_quantity__gt=0).exists(), "the worker serves the backorders",
              worker)
        assert worker.process.poll() is None
        after = _confirm(web.port, token, drafts[0])
        assert after.status == 409 and json.loads(after.body)["code"]  # answered from the database again

    assert Allocation.objects.filter(item=twin, status=AllocationStatus.OPEN).aggregate(
        total=Sum("quantity"))["total"] == D(len(drafts))
    invariants_hold()
