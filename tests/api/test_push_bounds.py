"""Pushes that used to answer 500 (issue 28, finding 6): a version longer than its column
(through the API as YAML and multipart, the dashboard upload and the command line) and
multipart bodies Django's parser refuses (an overlong boundary, a 100 KB part header). Each is
a 4xx naming the problem, and nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connectors.models import ConnectorVersion
from projects.models import AuditEntry
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key

pytestmark = pytest.mark.django_db
PUSH = "/api/v1/connectors/push"
LONG = "1.0.0-" + "a" * 250  # 256 characters: one more than the column holds
LONGEST = "1.0.0-" + "a" * 249


@pytest.fixture
def api(tenancy: Tenancy) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(tenancy.project)[1]}"})


def _unchanged() -> tuple[int, int]:
    return ConnectorVersion.objects.count(), AuditEntry.objects.count()


def _assert_version_refused(response: Any) -> None:
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["code"] == "invalid_definition"
    assert {f["field"] for f in body["fields"]} == {"info.version"}
    assert "at most 255 characters" in body["fields"][0]["message"]


def test_a_256_character_version_is_400_as_yaml(api: Client) -> None:
    before = _unchanged()
    response = api.post(PUSH, connector_yaml(version=LONG), content_type="application/yaml")
    _assert_version_refused(response)
    assert _unchanged() == before
    # 255 characters fit the column.
    ok = api.post(PUSH, connector_yaml(version=LONGEST), content_type="application/yaml")
    assert ok.status_code == 201, ok.content
    assert ConnectorVersion.objects.get().version == LONGEST


def test_a_256_character_version_is_400_as_multipart(api: Client) -> None:
    before = _unchanged()
    upload = SimpleUploadedFile("connector.yaml", connector_yaml(version=LONG))
    _assert_version_refused(api.post(PUSH, {"files": [upload]}))
    assert _unchanged() == before


def test_a_256_character_version_is_refused_by_the_dashboard_upload(tenancy: Tenancy) -> None:
    before = _unchanged()
    response = tenancy.client("admin").post(
        reverse("connector_upload", args=[tenancy.project.slug]),
        {
            "files": [SimpleUploadedFile("c.yaml", connector_yaml(version=LONG))],
            "action": "publish",
        },
    )
    assert 400 <= response.status_code < 500
    assert "at most 255 characters" in response.content.decode()
    assert _unchanged() == before


def test_a_256_character_version_is_a_clear_command_error(tenancy: Tenancy, tmp_path: Path) -> None:
    main = tmp_path / "connector.yaml"
    main.write_bytes(connector_yaml(version=LONG))
    before = _unchanged()
    with pytest.raises(CommandError, match="at most 255 characters"):
        call_command("push_connector", str(main), "--project", tenancy.project.slug)
    assert _unchanged() == before


def _multipart(boundary: str, part_headers: str) -> bytes:
    return (
        f"--{boundary}\r\n{part_headers}\r\n\r\n".encode()
        + connector_yaml()
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize(
    ("boundary", "part_headers"),
    [
        (
            "a" * 5000,
            'Content-Disposition: form-data; name="files"; filename="c.yaml"',
        ),
        ("", 'Content-Disposition: form-data; name="files"; filename="c.yaml"'),
        (
            "xyz",
            'Content-Disposition: form-data; name="files"; filename="c.yaml"\r\nX-Pad: '
            + "p" * 100_000,
        ),
    ],
    ids=["boundary-5000", "boundary-empty", "part-header-100KB"],
)
def test_a_multipart_body_django_cannot_parse_is_400(
    api: Client, boundary: str, part_headers: str
) -> None:
    before = _unchanged()
    response = api.post(
        PUSH,
        _multipart(boundary or "x", part_headers),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid" and "multipart" in body["message"]
    assert _unchanged() == before
