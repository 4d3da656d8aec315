"""Which version serves a connection now: the one question the agent tools ask, in one place.

Today it is the profile's resolution (the runtime's own, with its shared caches). When staged
rollouts land (``profiles.serving.serving_version``: a cohort connection is served the
rollout's candidate), this function switches to it and nothing else here changes.
"""

from __future__ import annotations

from connections.models import Connection
from profiles.resolution import Resolved
from profiles.selectors import resolve_profile
from projects.models import Project


def serving_resolved(connection: Connection, project: Project) -> Resolved | None:
    """The version serving ``connection`` now (None: its profile resolves to none)."""
    connection.profile.project = project  # the resolution reads it; no query
    return resolve_profile(connection.profile)
