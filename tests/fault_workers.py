"""What the Celery workers of ``tests/test_faults.py`` load beside Concord's own app; test code only.

A fault test starts a real worker as a subprocess with ``celery -A tests.fault_workers worker``: Concord's app
(``erp.celery``), whose default queue is the test's own (``QUEUE_ENV``), so what a task queues from inside the
worker (the relay queueing sends) stays on that queue, away from other runs on the same broker.

``PausingFileBackend`` is Django's file backend (writing in ``MAIL_DIR_ENV``) that, with ``PAUSE_AT_ENV`` set,
stops dead right after writing that many emails, having written ``PAUSED_MARKER`` in the mail directory: the test
then kills the worker at a known point, after the email left and before the sender recorded it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from django.core.mail.backends.filebased import EmailBackend as FileBackend

from erp.celery import app

QUEUE_ENV = "CONCORD_FAULTS_QUEUE"
MAIL_DIR_ENV = "CONCORD_FAULTS_MAIL_DIR"  # settings read no EMAIL_FILE_PATH from the environment
PAUSE_AT_ENV = "CONCORD_FAULTS_MAIL_PAUSE_AT"
PAUSED_MARKER = "paused.marker"
SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # what the file backend writes after each message

if os.environ.get(QUEUE_ENV):
    app.conf.task_default_queue = os.environ[QUEUE_ENV]


def emails(directory: Path) -> list[Message]:
    """Every email the file backend wrote in ``directory``, in no particular order."""
    found = []
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                found.append(message_from_bytes(chunk))
    return found


class PausingFileBackend(FileBackend):
    def __init__(self, *args: Any, file_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, file_path=file_path or os.environ[MAIL_DIR_ENV], **kwargs)

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        sent = super().send_messages(email_messages)  # written and closed: on disk
        pause_at = int(os.environ.get(PAUSE_AT_ENV) or 0)
        marker = Path(self.file_path) / PAUSED_MARKER
        if pause_at and not marker.exists() and len(emails(Path(self.file_path))) >= pause_at:
            marker.write_text(str(os.getpid()))
            time.sleep(600)  # until the test kills this process
        return sent
