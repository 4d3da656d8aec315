from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connectors.models import ConnectorVersion
from tests.factories import connector_yaml, make_project

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("push_connector", *args, stdout=out)
    return out.getvalue()


def test_push_builtin_and_custom(tmp_path: Path) -> None:
    project = make_project(slug="shop")
    main = tmp_path / "connector.yaml"
    main.write_bytes(connector_yaml())
    assert "acme_crm 1.0.0 (platform) published" in run(str(main), "--builtin")
    assert "acme_crm 1.0.0 (shop) draft saved" in run(str(main), "--project", "shop", "--draft")
    assert ConnectorVersion.objects.filter(project=project, published_at__isnull=True).count() == 1


def test_refusals_exit_non_zero_with_the_message(tmp_path: Path) -> None:
    make_project(slug="shop")
    main = tmp_path / "connector.yaml"
    main.write_bytes(connector_yaml())
    run(str(main), "--project", "shop")
    with pytest.raises(CommandError, match="immutable versioning is on"):
        run(str(main), "--project", "shop", "--force")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"info: {title: X, key: Bad, version: '1'}\n")
    with pytest.raises(CommandError, match=r"info\.key"):
        run(str(bad), "--project", "shop")
    with pytest.raises(CommandError, match="No project"):
        run(str(main), "--project", "nope")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.yaml"), "--builtin")
    with pytest.raises(CommandError):
        call_command("push_connector", str(main))  # neither --builtin nor --project
    assert ConnectorVersion.objects.count() == 1


def test_seed_demo_loads_the_builtin_examples_once() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    count = ConnectorVersion.objects.filter(project__isnull=True).count()
    assert count == 12
    call_command("seed_demo", stdout=io.StringIO())
    assert ConnectorVersion.objects.filter(project__isnull=True).count() == count
    reauth = ConnectorVersion.objects.filter(reauth_required=True).values_list("version", flat=True)
    assert set(reauth) == {"2.0.0"}
