"""The README's breaking-release walk-through, done the way a user does it in the dashboard
(shared by the docs tests)."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from connectors.models import ConnectorVersion
from projects.models import Project

OFFER = "Create a profile pinned to 2.x.x and migrate"


class FormFields(HTMLParser):
    """The fields of the form marked data-testid=start-form, with their pre-filled values."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("data-testid") == "start-form"
        if not self.inside or ("name" not in a and tag != "option"):
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "checkbox"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
        elif (
            tag == "option"
            and self._select
            and ("selected" in a or self._select not in self.fields)
        ):
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def start_the_demo_migration(project: Project) -> tuple[Client, str]:
    """The breaking release, then "Create a profile pinned to 2.x.x and migrate" submitted as
    the page fills it in. Returns the demo owner's client and the migration page's path."""
    call_command("demo_breaking_release", stdout=io.StringIO())
    version = ConnectorVersion.objects.get(
        project=project, connector__key="sandbox_hr", version="2.0.0"
    )
    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    page = client.get(reverse("version_detail", args=[project.slug, "sandbox_hr", version.pk]))
    offer = re.search(rf'href="([^"]+)"[^>]*>\s*{re.escape(OFFER)}', page.content.decode())
    assert offer, "the version page offers the migration"
    form_page = client.get(offer.group(1).replace("&amp;", "&"))
    parser = FormFields()
    parser.feed(form_page.content.decode())
    action = reverse("migration_start", args=[project.slug, "sandbox_hr", version.pk])
    response = client.post(action, parser.fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client, response["Location"]
