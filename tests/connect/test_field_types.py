"""The hosted connect page validates config fields by their type (issue 28, finding 7): url,
number, boolean, email and select each refuse what is not one, with a message naming the
field in the page's language, and nothing is stored. Before, ``../../../../etc/passwd`` was a
url, ``[]`` a boolean and ``NaN`` or ``inf`` a number."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.test import Client

from connections.models import Connection, ConnectSession
from connections.services.connect import connect_session_create
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.crypto import decrypt_json
from projects.services import Actor
from tests.factories import connector_yaml, make_project

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_TYPED_0123456789"

FIELDS: list[dict[str, Any]] = [
    {"key": "api_key", "label": "API key", "type": "password", "required": True, "secret": True},
    {"key": "endpoint", "label": "Endpoint", "type": "url", "required": False},
    {"key": "port", "label": "Port", "type": "number", "required": False},
    {"key": "sandbox", "label": "Sandbox", "type": "boolean", "required": False},
    {"key": "contact", "label": "Contact", "type": "email", "required": False},
    {"key": "region", "label": "Region", "type": "select", "options": ["eu", "us"]},
]
MESSAGES = {
    "url": "Endpoint must be a web address starting with https:// or http://.",
    "number": "Port must be a number.",
    "boolean": "Sandbox must be true or false.",
    "email": "Contact must be an email address, such as name@example.com.",
    "select": "Region must be one of eu, us.",
}
KEY_OF = {f["type"]: f["key"] for f in FIELDS}

REFUSED = [
    ("url", "../../../../etc/passwd"),
    ("url", "/etc/passwd"),
    ("url", "file:///etc/passwd"),
    ("url", "javascript:alert(1)"),
    ("url", "ftp://files.example.com/"),
    ("url", "example.com"),
    ("url", "http://"),
    ("url", "https://exa mple.com/"),
    ("url", "[]"),
    ("number", "[]"),
    ("number", "NaN"),
    ("number", "nan"),
    ("number", "inf"),
    ("number", "-inf"),
    ("number", "Infinity"),
    ("number", "1e999"),
    ("number", "0x10"),
    ("number", "1_000"),
    ("number", "1,5"),
    ("number", "12abc"),
    ("number", "true"),
    ("number", "--1"),
    ("boolean", "[]"),
    ("boolean", "yes"),
    ("boolean", "1"),
    ("boolean", "NaN"),
    ("boolean", "on"),
    ("boolean", "tru"),
    ("email", "not-an-email"),
    ("email", "a@"),
    ("email", "@example.com"),
    ("email", "a@b@example.com"),
    ("email", "[]"),
    ("select", "asia"),
    ("select", "EU"),
    ("select", "[]"),
]


@pytest.fixture
def profile() -> ConnectorProfile:
    project = make_project()
    document = yaml.safe_load(connector_yaml(key="typed_crm", title="Typed CRM"))
    document["authentication"]["configFields"] = FIELDS
    connector_version_push(
        actor=SYSTEM, project=project, files=[("c.yaml", yaml.safe_dump(document).encode())]
    )
    return profile_create(actor=SYSTEM, project=project, connector_key="typed_crm", name="typed")


def link(profile: ConnectorProfile, **kw: Any) -> str:
    created = connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        origin_owner_id="cust-7",
        **kw,
    )
    return urlsplit(created.url).path


def test_the_table_holds_the_33_cases_of_the_finding_and_more() -> None:
    assert len(REFUSED) >= 33 and {kind for kind, _ in REFUSED} == set(MESSAGES)


@pytest.mark.parametrize(("kind", "value"), REFUSED, ids=[f"{k}:{v}" for k, v in REFUSED])
def test_a_value_of_the_wrong_type_is_refused_on_the_page(
    profile: ConnectorProfile, kind: str, value: str
) -> None:
    path = link(profile)
    page = Client().post(path, {"config_api_key": SECRET, f"config_{KEY_OF[kind]}": value})
    assert page.status_code == 400
    html = page.content.decode()
    assert MESSAGES[kind] in html
    assert f'id="config-{KEY_OF[kind]}-error"' in html  # shown at its field
    assert SECRET not in html
    assert not Connection.objects.exists()
    assert ConnectSession.objects.get().used_at is None  # the link still works


def test_values_of_the_right_type_connect(profile: ConnectorProfile) -> None:
    page = Client().post(
        link(profile),
        {
            "config_api_key": SECRET,
            "config_endpoint": "https://api.example.com/v1",
            "config_port": "-3.5e2",
            "config_sandbox": "TRUE",
            "config_contact": "ops@example.com",
            "config_region": "eu",
        },
    )
    assert page.status_code == 200, page.content.decode()[:2000]
    connection = Connection.objects.get()
    assert connection.config_values == {
        "endpoint": "https://api.example.com/v1",
        "port": "-3.5e2",
        "sandbox": "true",
        "contact": "ops@example.com",
        "region": "eu",
    }
    assert decrypt_json(connection.config_secrets) == {"api_key": SECRET}


def test_the_page_offers_each_type_its_control(profile: ConnectorProfile) -> None:
    html = Client().get(link(profile)).content.decode()
    assert 'type="url" name="config_endpoint"' in html
    assert 'type="number" name="config_port"' in html
    assert 'type="email" name="config_contact"' in html
    assert 'name="config_sandbox"' in html and '<option value="true">Yes</option>' in html


@pytest.mark.parametrize(
    ("locale", "number", "boolean"),
    [
        ("de", "Port muss eine Zahl sein.", "Sandbox muss true oder false sein."),
        ("fr", "Port doit être un nombre.", "Sandbox doit valoir true ou false."),
        ("es", "Port debe ser un número.", "Sandbox debe ser true o false."),
        (
            "ja",
            "Port は数値である必要があります。",
            "Sandbox は true または false である必要があります。",
        ),
    ],
)
def test_the_message_is_in_the_pages_language(
    profile: ConnectorProfile, locale: str, number: str, boolean: str
) -> None:
    for key, value, message in (("port", "NaN", number), ("sandbox", "[]", boolean)):
        page = Client().post(
            link(profile, locale=locale), {"config_api_key": SECRET, f"config_{key}": value}
        )
        assert page.status_code == 400
        assert message in page.content.decode()
