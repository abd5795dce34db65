"""``make run``: migrate, load the demo network, then supervise web, Celery worker and beat.

Ctrl-C (or SIGTERM) stops the three children, then the embedded PostgreSQL and Redis when they
were started for this run, so nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from erp import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The web server's shape: four processes of two threads. A request is mostly Python (about two thirds of its CPU
# time), and threads of one process share its interpreter lock, while an API client keeps its connection to the
# process that accepted it: two busy clients on one process of four threads ran at two thirds the rate of two
# clients on two processes. Two threads still let a request's database waits overlap another's Python.
WEB_WORKERS, WEB_THREADS = 4, 2


def _banner(port: str) -> str:
    import django

    django.setup()
    from erp.demo import USERS

    password = os.environ.get("DEMO_PASSWORD", "demo")
    width = max(len(user.username) for user in USERS) + 1
    lines = [
        "",
        "Concord is running.",
        f"  Web:        http://127.0.0.1:{port}/",
        f"  API:        http://127.0.0.1:{port}/api/v1/   (docs: http://127.0.0.1:{port}/api/docs/)",
        f"  Admin:      http://127.0.0.1:{port}/admin/",
        f"  Health:     http://127.0.0.1:{port}/readyz",
        f"  Demo logins (password '{password}'):",
        *[f"    {user.username:<{width}} {user.description}" for user in USERS],
        "  Press Ctrl-C to stop web, worker, beat and the embedded servers.",
        "",
    ]
    return "\n".join(lines)


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erp.settings")
    if (BASE_DIR / ".env").exists():
        from dotenv import load_dotenv

        load_dotenv(BASE_DIR / ".env", override=False)
    port = os.environ.get("PORT") or "8000"
    was_running = embedded.configured() or embedded.running()
    embedded.bootstrap()
    embedded.claim()
    children: list[subprocess.Popen[bytes]] = []

    def shutdown(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if not was_running:
            embedded.stop()
            print("Stopped web, worker, beat and the embedded PostgreSQL and Redis.")
        else:
            print("Stopped web, worker and beat.")

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # Set both explicitly: a shell that starts us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        _manage("migrate", "--no-input", "-v", "0")
        _manage("load_demo")
        if os.environ.get("DEBUG", "") not in {"1", "true", "True", "yes", "on"}:
            _manage("collectstatic", "--no-input", "-v", "0")
        commands = {
            # Processes rather than threads carry the load (``WEB_WORKERS``'s comment says why).
            "web": [str(BIN / "gunicorn"), "erp.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS), "--access-logfile", "-",
                    "--graceful-timeout", "5"],
            "worker": [str(BIN / "celery"), "-A", "erp", "worker", "--loglevel", "INFO", "--concurrency", "2",
                       "--hostname", "worker@%h"],
            "beat": [str(BIN / "celery"), "-A", "erp", "beat", "--loglevel", "INFO",
                     "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                     "--pidfile", str(embedded.VAR_DIR / "celerybeat.pid")],
        }
        for name, command in commands.items():
            # Each child leads its own process group so that Ctrl-C reaches only this supervisor,
            # which then stops the children in order.
            children.append(subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True))
            print(f"started {name} (pid {children[-1].pid})")
        time.sleep(1.5)
        print(_banner(port), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [name for name, child in zip(commands, children, strict=True) if child.poll() is not None]
        print(f"{', '.join(failed)} exited; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
