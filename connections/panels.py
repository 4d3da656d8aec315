"""The connections app's answer to the profiles app's ``pin_change`` slot (registered in
``ConnectionsConfig.ready()``): how many connections a pin change moves."""

from __future__ import annotations

from typing import Any

from profiles.models import ConnectorProfile

from . import selectors


def profile_connection_count(*, profile: ConnectorProfile, **_: Any) -> dict[str, Any]:
    """What a pin change of the profile moves: every connection on it."""
    return {"connections": selectors.count_on_profile(profile)}
