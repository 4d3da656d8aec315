"""The README's receiver, run as written (its secret and port filled in), accepts a real
delivery and refuses one signed with another secret."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from events.models import Delivery, DeliveryStatus, WebhookEndpoint
from events.services import endpoint_create, endpoint_send_test, new_secret
from projects.crypto import encrypt_text
from projects.services import Actor
from tests.conftest import Tenancy

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.django_db


def _receiver_code() -> str:
    section = README.read_text().split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return code


def test_the_readme_receiver_verifies_our_deliveries(tenancy: Tenancy, run_tasks: Any) -> None:
    code = _receiver_code()
    assert len(code.strip().splitlines()) <= 24  # short enough to copy
    secret = new_secret()
    served: dict[str, Any] = {}
    code = code.replace('"whsec_..."', repr(secret))
    code = code.replace('HTTPServer(("", 8000), Receiver).serve_forever()', "")
    exec(compile(code, "README.md", "exec"), served)
    server = served["HTTPServer"](("127.0.0.1", 0), served["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        good, _ = endpoint_create(
            actor=Actor.system(), project=tenancy.project, url=url, events=["*"]
        )
        # The README's secret is the one this endpoint signs with.
        WebhookEndpoint.objects.filter(pk=good.pk).update(secret=encrypt_text(secret))
        forged, _ = endpoint_create(
            actor=Actor.system(), project=tenancy.project, url=url, events=["*"]
        )
        with run_tasks():
            endpoint_send_test(actor=Actor.system(), endpoint=good)
            endpoint_send_test(actor=Actor.system(), endpoint=forged)
    finally:
        server.shutdown()
        server.server_close()
    assert Delivery.objects.get(endpoint=good).last_http_status == 204
    assert Delivery.objects.get(endpoint=good).status == DeliveryStatus.SUCCEEDED
    assert Delivery.objects.get(endpoint=forged).last_http_status == 400
