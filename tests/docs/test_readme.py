"""The README and docs/ stand on their own: every relative link resolves inside the
repository (anchors included), and the README's demo figures and walk-through match what
seed_demo and demo_breaking_release create."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from connections.models import Connection
from projects.models import Membership, Project
from projects.services import Actor, api_key_create

from .demo import OFFER, start_the_demo_migration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The README and every file in docs/ (whatever its kind: links are read from Markdown).
DOCUMENTS = [README, *sorted(p for p in (ROOT / "docs").rglob("*") if p.is_file())]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text())
    return [
        link
        for link in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", link)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    links = relative_links(document)
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(f"{link}: no such file in the repository")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


# `connections/selectors/` or `core/baked.py` in a document: a path in the repository.
CODE_PATH = re.compile(r"`([a-z_]+(?:/[\w.\-]+)+/?)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_a_document_names_exists(document: Path) -> None:
    """A module moved or renamed takes the documents that name it along."""
    tops = {p.name for p in ROOT.iterdir() if p.is_dir()}
    named = CODE_PATH.findall(document.read_text())
    gone = [
        path
        for path in named
        if path.split("/")[0] in tops and not (ROOT / path.rstrip("/")).exists()
    ]
    assert not gone, f"{document.relative_to(ROOT)} names paths that do not exist: {gone}"


# Documents that live outside the repository (the design notes it was built from).
OUTSIDE = re.compile("|".join([r"\bDESIGN\.md", r"\bAPI\.md", r"\bSTYLE\.md", r"\.\./shared"]))


def test_nothing_in_the_repository_cites_a_document_outside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".html", ".txt", ".toml", ".yaml", ".yml", ".cfg"}:
            continue
        if path == Path(__file__) or not path.exists():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if OUTSIDE.search(line):
                citing.append(f"{name}:{number}: {line.strip()}")
    assert not citing, "\n".join(citing)


def test_the_readme_links_the_docs_and_nothing_outside() -> None:
    text = README.read_text()
    assert "../" not in "".join(relative_links(README))
    for document in [d for d in DOCUMENTS[1:] if d.suffix == ".md"]:
        assert f"(docs/{document.name}" in text, f"the README does not link {document.name}"


def figure(pattern: str) -> int:
    """A number the README states, e.g. figure(r"\\*\\*(\\d+) connections\\*\\*")."""
    found = re.findall(pattern, README.read_text())
    assert len(found) == 1, f"the README should state {pattern!r} once, found {found}"
    return int(found[0])


@pytest.mark.django_db
def test_the_demo_figures_are_what_seed_demo_creates() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    assert Connection.objects.count() == figure(r"\*\*(\d+) connections\*\*")
    assert Connection.objects.filter(connector__key="sandbox_crm").count() == figure(
        r"\*\*(\d+) Sandbox CRM accounts\*\*"
    )
    assert Connection.objects.filter(connector__key="sandbox_hr").count() == figure(
        r"\*\*(\d+) Sandbox HR\s+accounts\*\*"
    )
    projects = re.search(r"two projects, \*(\w+)\* and \*(\w+)\*", README.read_text())
    assert projects is not None
    assert set(Project.objects.values_list("name", flat=True)) == set(projects.groups())

    # The demo users and their roles, as the README lists them.
    listed = re.findall(r"^- `([a-z-]+)` \(([a-z ]+)[,)]", README.read_text(), re.MULTILINE)
    assert len(listed) == 5
    for username, role in listed:
        if role == "support staff":
            assert not Membership.objects.filter(user__username=username).exists()
            continue
        assert Membership.objects.get(user__username=username).role == role
    assert "**demo / connector-hub-demo**" in README.read_text()


@pytest.mark.django_db
def test_the_breaking_release_walk_through(django_capture_on_commit_callbacks: Any) -> None:
    """The README's steps: the Migrations page starts empty; after demo_breaking_release the
    version page offers the migration; the migration has the stated pending accounts, and
    sending to all of them makes that many emails with reconnect links."""
    text = " ".join(README.read_text().split())
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="acme-production")
    _key, raw = api_key_create(actor=Actor.system(), project=project, name="docs")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert "The Migrations page is empty at first" in text
    assert api.get("/api/v1/migrations").json() == []

    assert f"**{OFFER}**" in text
    client, migration_page = start_the_demo_migration(project)
    pending = figure(r"\*\*(\d+) pending\*\* accounts")
    assert f"Send to all pending ({pending})…" in text
    assert f"Send to all pending ({pending})…" in client.get(migration_page).content.decode()
    confirm = client.post(migration_page + "notify/", {"scope": "all"})
    assert f"**Send {pending} emails**" in text
    assert f"Send {pending} emails" in confirm.content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the tasks are enqueued on commit
        client.post(migration_page + "notify/", {"scope": "all", "confirmed": "yes"})
    assert len(mail.outbox) == pending
    assert all("/connect/" in message.body for message in mail.outbox)
