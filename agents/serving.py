"""Which version serves a connection now: the one question the agent tools ask, in one place.

It is ``profiles.serving.serving_version``, the function the runtime itself runs an action
on: the profile's resolution, or during a staged rollout the candidate for a cohort
connection and the stable version for the others. So the tools an agent lists are the
actions of the version its next call runs on.
"""

from __future__ import annotations

from connections.models import Connection
from profiles.resolution import Resolved
from profiles.serving import serving_version
from projects.models import Project


def serving_resolved(connection: Connection, project: Project) -> Resolved | None:
    """The version serving ``connection`` now (None: its profile resolves to none)."""
    connection.profile.project = project  # the resolution reads it; no query
    return serving_version(connection.profile, connection.public_id).resolved
