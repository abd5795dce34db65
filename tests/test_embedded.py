"""The embedded PostgreSQL and Redis: real servers, started on demand, stopped without orphans."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from erp import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_without_servers(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(CONCORD_VAR_DIR=str(var_dir), DEBUG="1", **extra)
    return env


def _processes_using(var_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(var_dir) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _wait_until_none_use(var_dir: Path, seconds: float = 15.0) -> list[psutil.Process]:
    """The processes still using ``var_dir`` once shutdown has had ``seconds`` to finish (a loaded
    machine may take a moment after ``pg_ctl stop`` returns)."""
    deadline = time.monotonic() + seconds
    while (left := _processes_using(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_both_urls_or_neither_are_accepted(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://x@127.0.0.1:1/x")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(RuntimeError, match="Set both DATABASE_URL and REDIS_URL"):
        embedded.bootstrap()


def test_configured_servers_are_used_as_given(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.internal:5432/concord")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    assert embedded.bootstrap() is False
    assert os.environ["DATABASE_URL"] == "postgres://u@db.internal:5432/concord"


def test_ports_are_chosen_once_per_checkout_and_kept():
    first = embedded.ports()
    assert embedded.ports() == first
    assert 20000 <= first.postgres < 30000 and 20000 <= first.redis < 30000
    assert embedded.database_url().endswith(f":{first.postgres}/concord")


@pytest.mark.slow
def test_exec_starts_real_servers_under_var_and_stops_them_afterwards(tmp_path):
    script = (
        "import os, psycopg2, redis;"
        "c = psycopg2.connect(os.environ['DATABASE_URL']); cur = c.cursor();"
        "cur.execute('show server_version'); print('pg', cur.fetchone()[0]);"
        "print('redis', redis.Redis.from_url(os.environ['REDIS_URL']).ping())"
    )
    result = subprocess.run(
        [sys.executable, "-m", "erp.embedded", "exec", "--", sys.executable, "-c", script],
        cwd=BASE_DIR, env=_env_without_servers(tmp_path), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "pg 16" in result.stdout or "pg 1" in result.stdout
    assert "redis True" in result.stdout
    assert (tmp_path / "postgres" / "data" / "PG_VERSION").exists()
    assert _wait_until_none_use(tmp_path) == []


def test_concurrent_execs_share_the_servers_and_the_last_one_out_stops_them(tmp_path):
    """A test run beside a benchmark: the exec that started the servers ends first, the other keeps working."""
    env = _env_without_servers(tmp_path)
    started = ("import os, psycopg2; c = psycopg2.connect(os.environ['DATABASE_URL']); cur = c.cursor();"
               "cur.execute('select pg_postmaster_start_time()'); return_value = cur.fetchone()[0]; c.close()")
    first_script = f"import time; {started}; time.sleep(4); print('first', return_value)"
    second_script = (f"import time; {started}; before = return_value; time.sleep(8); {started};"
                     "print('same server' if before == return_value else 'restarted')")
    command = [sys.executable, "-m", "erp.embedded", "exec", "--", sys.executable, "-c"]
    first = subprocess.Popen([*command, first_script], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "postgres" / "data" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    second = subprocess.Popen([*command, second_script], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    out_first, err_first = first.communicate(timeout=180)
    assert first.returncode == 0 and "first" in out_first, err_first
    out_second, err_second = second.communicate(timeout=180)
    # The servers outlived the exec that started them while the other still worked.
    assert second.returncode == 0 and "same server" in out_second, (out_second, err_second)
    assert _wait_until_none_use(tmp_path) == []  # and the last one out stopped them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    """The status and body of a GET; 0 when no answer came within 5 s (a loaded machine: the caller asks again
    until its deadline)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
        return 0, str(error).encode()


@pytest.mark.slow
def test_make_run_serves_the_demo_network_and_ctrl_c_leaves_no_process_behind(tmp_path):
    """The supervisor behind ``make run``, end to end on its own embedded servers."""
    port = _free_port()
    # Started with SIGINT ignored, as a shell's background job is: Ctrl-C must still stop it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "erp.devserver"], cwd=BASE_DIR,
        env=_env_without_servers(tmp_path, PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert f"http://127.0.0.1:{port}/" in text, text[-3000:]
        assert "ne.operator" in text and "password 'demo'" in text
        status = 0
        while time.monotonic() < deadline:
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, body
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = ""
    assert proc.returncode == 0, rest[-3000:]
    assert "Stopped web, worker, beat and the embedded PostgreSQL and Redis." in rest
    assert _wait_until_none_use(tmp_path) == []
    assert not psutil.pid_exists(proc.pid)
