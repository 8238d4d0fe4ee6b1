"""The core app: it imports no domain app, and its on-commit task sender."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from django.db import transaction

import core
from core.tasks import send_task_on_commit

DOMAIN_APPS = {"accounts", "audit", "cases", "inference", "notifications", "reviews"}


def runtime_imports(tree: ast.AST):
    """Every module a file imports when it runs (at the top or inside functions); imports under
    ``if TYPE_CHECKING:`` are for type hints only and are skipped."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_core_imports_no_domain_app():
    files = sorted(Path(core.__file__).parent.rglob("*.py"))
    assert len(files) >= 7
    for path in files:
        for module in runtime_imports(ast.parse(path.read_text())):
            assert module.split(".")[0] not in DOMAIN_APPS, f"{path.name} imports {module}"


class FakeTask:
    name = "tests.fake_task"

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple] = []
        self.error = error

    def delay(self, *args, **kwargs) -> None:
        self.sent.append((args, kwargs))
        if self.error is not None:
            raise self.error


@pytest.mark.django_db
def test_a_task_is_sent_once_the_transaction_commits(django_capture_on_commit_callbacks):
    task = FakeTask()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        send_task_on_commit(task, 7, reason="test")
        assert task.sent == []  # not before the commit
    assert task.sent == [((7,), {"reason": "test"})]

    rolled_back = FakeTask()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        send_task_on_commit(rolled_back, 8)
        raise RuntimeError("the caller failed")
    assert rolled_back.sent == []


@pytest.mark.django_db
def test_a_broker_that_cannot_be_reached_is_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    down, other = FakeTask(ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")), FakeTask()
    with caplog.at_level(logging.ERROR, logger="core.tasks"), django_capture_on_commit_callbacks(execute=True):
        send_task_on_commit(down, 1)
        send_task_on_commit(other, 2)
    assert down.sent == [((1,), {})] and other.sent == [((2,), {})]  # the failure stopped nothing
    [record] = caplog.records
    assert "Could not enqueue tests.fake_task" in record.getMessage() and record.exc_info[0] is ConnectionRefusedError
