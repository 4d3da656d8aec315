"""Deleting a connector version: a write in three apps, so its entry point lives here, in the
highest of them, and calls down (no signals): the connectors app's steps, the profiles' refusal
and resolution moves, and this app's connection counts."""

from __future__ import annotations

from django.db import transaction

from connectors import services as publishing
from connectors.models import ConnectorVersion
from profiles import services as profile_services
from projects.services import Actor

from .. import counters


@transaction.atomic
def connector_version_delete(*, actor: Actor, version: ConnectorVersion) -> None:
    """Delete a custom version: drafts always; published ones only while immutability is off
    and no profile resolves to them (409). The connections resolved to it are counted as
    unresolved, and the profiles it moves are announced."""
    version = publishing.delete_target(version)
    if version.is_draft:
        publishing.delete_write(actor=actor, version=version)
        return
    profile_services.version_in_use_refusal(version)
    counters.version_deleting(version)
    watched = profile_services.resolutions_before(
        connector_id=version.connector_id, project=version.project
    )
    number = version.version
    publishing.delete_write(actor=actor, version=version)
    profile_services.resolutions_announce(watched, cause="unpublish", version=number)
