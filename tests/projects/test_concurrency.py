"""Concurrent writes on PostgreSQL (threads, real transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from projects.models import Membership, Role
from projects.services import Actor, ServiceError, membership_change_role, membership_remove
from tests.factories import make_member, make_organization

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(*calls) -> list[BaseException | None]:
    barrier = threading.Barrier(len(calls))
    results: list[BaseException | None] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            calls[index]()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("operation", ["demote", "remove"])
def test_two_owners_stepping_down_at_once_leave_one_owner(operation: str) -> None:
    organization = make_organization()
    a = make_member(organization, Role.OWNER)
    b = make_member(organization, Role.OWNER)
    ma, mb = Membership.objects.get(user=a), Membership.objects.get(user=b)

    def step_down(user, membership):
        if operation == "demote":
            return lambda: membership_change_role(
                actor=Actor(user=user), membership=membership, role=Role.ADMIN
            )
        return lambda: membership_remove(actor=Actor(user=user), membership=membership)

    results = run_concurrently(step_down(a, ma), step_down(b, mb))
    assert Membership.objects.filter(organization=organization, role=Role.OWNER).count() == 1
    failures = [r for r in results if r is not None]
    assert len(failures) == 1 and isinstance(failures[0], ServiceError), results
