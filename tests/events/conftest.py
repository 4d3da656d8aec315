from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from events.models import WebhookEndpoint
from events.services import endpoint_create
from projects.services import Actor
from tests.conftest import Tenancy

from .receiver import Receiver, receiver_server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_server() as r:
        yield r


@pytest.fixture
def endpoint(tenancy: Tenancy, receiver: Receiver) -> WebhookEndpoint:
    """An endpoint of the project for every event, pointing at the receiver (which knows its
    secret)."""
    created, secret = endpoint_create(
        actor=Actor.system(), project=tenancy.project, url=receiver.url(), events=["*"]
    )
    receiver.secrets.append(secret)
    return created


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks: Any) -> Any:
    """``with run_tasks():`` runs what the code enqueues on commit (the immediate task
    backend then delivers)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
