"""Demo data (seed_demo) and the benchmark generator (seed_bench)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db_connection

from connections import rbac
from connections.models import Connection, ConnectionGrant, Health, OrgRole, Status
from connections.selectors import credentials_masked, visible
from connections.services.connections import split_config
from projects.crypto import decrypt_json
from projects.models import Membership, Project

pytestmark = pytest.mark.django_db


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def sees(username: str, project: Project) -> set[int]:
    membership = Membership.objects.select_related("user").get(
        organization=project.organization, user__username=username
    )
    return set(
        visible(rbac.Viewer(membership.user, membership), project).values_list("pk", flat=True)
    )


def test_seed_demo_connections_statuses_grants_and_idempotence() -> None:
    output = seed_demo()
    demo = Connection.objects.filter(origin_owner_id__startswith="demo-").exclude(
        origin_owner_id__startswith="demo-sandbox-"
    )
    assert demo.count() == 300
    # Plus two on the sandbox connector served by this server (local and test settings).
    sandbox = Connection.objects.filter(origin_owner_id__startswith="demo-sandbox-")
    assert set(sandbox.values_list("connector__key", flat=True)) == {"sandbox_crm", "sandbox_hr"}
    assert sandbox.count() == 5
    production = Project.objects.get(slug="acme-production")
    staging = Project.objects.get(slug="acme-staging")
    assert demo.filter(project=staging).exists() and demo.filter(project=production).exists()
    assert set(demo.values_list("status", flat=True)) == set(Status.values)
    assert demo.filter(status=Status.ACTIVE).count() > 200
    assert {Health.HEALTHY, Health.UNHEALTHY, Health.NEEDS_REAUTH} <= set(
        demo.values_list("health", flat=True)
    )
    assert set(demo.values_list("connector__key", flat=True)) == {
        "acme_crm",
        "orbit_hr",
        "ledgerly",
    }
    # Spread over ~90 days, not all stamped "now" by bulk_create.
    oldest = demo.order_by("created_at").first()
    newest = demo.order_by("-created_at").first()
    assert oldest and newest and (newest.created_at - oldest.created_at).days >= 60
    # The needs-reauth trend has a history: each such connection entered needs_reauth through
    # a health check within the last 14 days, on several days.
    from connections.selectors import needs_reauth_per_day

    owner = Membership.objects.get(organization=production.organization, role="owner")
    trend = needs_reauth_per_day(production, rbac.Viewer(owner.user, owner))
    reauth = demo.filter(project=production, status=Status.NEEDS_REAUTH).count()
    assert reauth > 0 and sum(n for _day, n in trend) == reauth
    assert sum(1 for _day, n in trend if n) >= 3
    # Older connections on older releases: the adoption chart has several bars.
    acme = demo.filter(project=production, connector__key="acme_crm")
    assert acme.values("resolved_version").distinct().count() >= 2

    # Secrets: encrypted, valid for the version each connection resolved to, shown masked.
    for connection in demo.select_related("resolved_version")[:40]:
        assert connection.resolved_version is not None
        secrets = decrypt_json(connection.config_secrets)
        fields = {**connection.config_values, **secrets}
        assert split_config(connection.resolved_version, fields) == (
            connection.config_values,
            secrets,
        )
        for _label, shown, secret in credentials_masked(connection):
            if secret:
                assert shown.startswith("••••")
    orbit = demo.filter(connector__key="orbit_hr").first()
    assert orbit is not None
    tokens = decrypt_json(orbit.oauth_tokens)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_at", "scope"}
    assert orbit.token_expires_at is not None
    assert tokens["access_token"] not in orbit.oauth_tokens

    # Access: a team grant and user grants in production; the organization-level role in
    # staging (so a member without grants sees no production connection).
    assert ConnectionGrant.objects.filter(subject_type="team", team__name="Support").count() == 5
    assert (
        ConnectionGrant.objects.filter(subject_type="user", user__username="mo-member").count() == 3
    )
    assert demo.filter(org_role=OrgRole.VIEWER).count() == 2
    assert demo.filter(org_role=OrgRole.VIEWER, project=staging).count() == 2
    assert len(sees("mo-member", production)) == 8
    assert len(sees("vera-viewer", production)) == 5
    assert sees("nina-newcomer", production) == set()
    assert len(sees("nina-newcomer", staging)) == 2
    assert len(sees("mo-member", staging)) == 2
    assert len(sees("alice-admin", production)) == demo.filter(project=production).count() + 5
    assert "mo-member (member, granted only): 8 in Production, 2 in Staging" in output
    assert "nina-newcomer (member, granted only): 0 in Production, 2 in Staging" in output

    before = set(demo.values_list("pk", flat=True))
    grants = ConnectionGrant.objects.count()
    second = seed_demo()
    assert set(demo.values_list("pk", flat=True)) == before
    assert ConnectionGrant.objects.count() == grants
    assert "Demo connections: 305." in second
    assert "seeded for another address" not in second


def test_seed_demo_warns_when_the_sandbox_was_seeded_for_another_address(settings: Any) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    assert "seeded for another address" not in seed_demo()
    settings.SITE_URL = "http://127.0.0.1:8018"
    output = seed_demo()
    assert "seeded for another address than SITE_URL http://127.0.0.1:8018" in output
    assert "sandbox_crm 1.0.0 (http://127.0.0.1:8000/sandbox/api)" in output
    assert "sandbox_hr 1.0.0 (http://127.0.0.1:8000/sandbox/api)" in output


@pytest.mark.postgres
def test_seed_bench_creates_exactly_what_was_asked() -> None:
    with db_connection.cursor() as cursor:  # ids used and lost before (rolled back, deleted)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('connections_connection', 'id'), "
            "(SELECT coalesce(max(id), 0) FROM connections_connection) + 3000)"
        )
    out = StringIO()
    call_command("seed_bench", "--connections", "2000", "--project", "bench-test", stdout=out)
    project = Project.objects.get(slug="bench-test")
    rows = Connection.objects.filter(project=project)
    assert rows.count() == 2000
    assert set(rows.values_list("status", flat=True)) <= set(Status.values)
    assert set(rows.values_list("health", flat=True)) <= set(Health.values)
    assert 0.85 < rows.filter(status=Status.ACTIVE).count() / 2000 < 0.95
    assert rows.values("profile").distinct().count() == 6
    assert rows.filter(resolved_version__isnull=True).count() == 0
    # The generated search column is filled by the database.
    sample = rows.order_by("id").first()
    assert sample is not None
    assert sample.origin_owner_id in sample.search_text and sample.email in sample.search_text
    # The secrets are real tokens in the project's format.
    with_secret = rows.exclude(config_secrets="").first()
    assert with_secret is not None and decrypt_json(with_secret.config_secrets)
    with_tokens = rows.exclude(oauth_tokens="").first()
    assert with_tokens is not None and "access_token" in decrypt_json(with_tokens.oauth_tokens)
    # Spread over two years, in id order.
    first, last = rows.order_by("id").first(), rows.order_by("-id").first()
    assert first and last and (last.created_at - first.created_at).days > 700
    assert ConnectionGrant.objects.filter(connection__project=project).exists()
    assert "Added 2,000 connections" in out.getvalue()

    # Idempotent: asking for the same number adds nothing; a higher one adds the difference.
    call_command("seed_bench", "--connections", "2000", "--project", "bench-test", stdout=out)
    assert rows.count() == 2000
    call_command("seed_bench", "--connections", "2500", "--project", "bench-test", stdout=out)
    assert rows.count() == 2500


def test_seed_bench_refuses_other_databases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_bench", "--connections", "10")
    assert not Project.objects.filter(slug="bench-prod").exists()
