"""Small derived values on the connector models."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, ConnectorVersion


def version_of(connector: Connector, definition: Any) -> ConnectorVersion:
    return ConnectorVersion(connector=connector, definition=definition)


def test_title_is_the_definitions_info_title() -> None:
    connector = Connector(key="acme_crm", title="Acme (platform)")
    version = version_of(connector, {"info": {"title": "Acme CRM", "key": "acme_crm"}})
    assert version.title == "Acme CRM"


def test_title_falls_back_to_the_projects_display_title() -> None:
    connector = Connector(key="acme_crm", title="acme_crm")
    connector.display_title = "Acme CRM (custom)"  # type: ignore[attr-defined]
    assert version_of(connector, {"info": {"key": "acme_crm"}}).title == "Acme CRM (custom)"


def test_title_falls_back_to_the_connector_row_then_the_key() -> None:
    assert version_of(Connector(key="acme_crm", title="Acme"), {"info": {}}).title == "Acme"
    assert version_of(Connector(key="acme_crm", title=""), {}).title == "acme_crm"
    assert version_of(Connector(key="acme_crm", title=""), {"info": "odd"}).title == "acme_crm"


@pytest.mark.django_db
def test_a_titled_definition_does_not_load_the_connector() -> None:
    version = ConnectorVersion(connector_id=1, definition={"info": {"title": "Acme CRM"}})
    with CaptureQueriesContext(connection) as queries:
        assert version.title == "Acme CRM"
    assert len(queries) == 0
