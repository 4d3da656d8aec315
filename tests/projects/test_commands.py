from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory

from ops.management.commands.seed_demo import DEMO_PASSWORD
from projects.models import ApiKey, AuditEntry, Membership, Organization, Project, Team


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_a_working_login() -> None:
    out, _ = run("seed_demo")
    assert f"demo / {DEMO_PASSWORD}" in out
    counts = [m.objects.count() for m in (Organization, Project, Membership, Team)]
    run("seed_demo")
    assert [m.objects.count() for m in (Organization, Project, Membership, Team)] == counts
    assert counts[1] >= 2
    # django-axes' backend needs the request (it counts failures per address).
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="demo", password=DEMO_PASSWORD) is not None
    support = authenticate(request, username="sam-support", password=DEMO_PASSWORD)
    assert support is not None
    assert support.groups.filter(name="support").exists()


@pytest.mark.django_db
def test_create_project_creates_the_organization_once() -> None:
    out, _ = run(
        "create_project", "shop-prod", "--organization", "shop", "--name", "Shop production"
    )
    assert "Created project shop-prod" in out
    project = Project.objects.get(slug="shop-prod")
    assert project.name == "Shop production" and project.organization.slug == "shop"
    out, _ = run("create_project", "shop-prod", "--organization", "shop")
    assert "exists already" in out
    run("create_project", "shop-staging", "--organization", "shop")
    assert Organization.objects.filter(slug="shop").count() == 1
    assert Project.objects.filter(organization__slug="shop").count() == 2
    assert AuditEntry.objects.filter(action="project.created").count() == 2


@pytest.mark.django_db
def test_create_project_refuses_bad_input() -> None:
    with pytest.raises(CommandError):
        run("create_project", "Not A Slug")
    run("create_project", "p1", "--organization", "o1")
    with pytest.raises(CommandError, match="exists in organization o1"):
        run("create_project", "p1", "--organization", "o2")
    assert not Project.objects.filter(slug="Not A Slug").exists()


@pytest.mark.django_db
def test_create_api_key_prints_the_key_alone_on_the_last_line() -> None:
    run("create_project", "p1")
    out, _ = run("create_api_key", "p1")
    key = out.strip().splitlines()[-1]
    assert key.startswith("chk_") and " " not in key
    assert ApiKey.objects.get().project.slug == "p1"
    response = Client().get("/api/v1/project", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.json()["slug"] == "p1"
    with pytest.raises(CommandError, match="No project"):
        run("create_api_key", "nope")


@pytest.mark.django_db
def test_create_api_key_with_read_scope() -> None:
    run("create_project", "p1")
    out, err = run("create_api_key", "p1", "--scope", "read")
    key = out.strip().splitlines()[-1]
    assert ApiKey.objects.get().scope == "read" and "(read)" in err
    headers = {"Authorization": f"Bearer {key}"}
    assert Client().get("/api/v1/project", headers=headers).status_code == 200
    response = Client().post("/api/v1/connector_profiles", headers=headers)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    with pytest.raises(CommandError):
        run("create_api_key", "p1", "--scope", "admin")
