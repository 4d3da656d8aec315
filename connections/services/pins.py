"""A pin change: the profiles app writes the pin, and its audit entry states how many
connections the change moved, which this app counts. One service in the higher of the two
apps, calling down (no page-panel slot, no signal)."""

from __future__ import annotations

from django.db import transaction

from profiles import services as profile_services
from profiles.models import ConnectorProfile
from projects.services import Actor

from ..selectors import count_on_profile


@transaction.atomic
def profile_set_pin(
    *, actor: Actor, profile: ConnectorProfile, pin: str | None
) -> ConnectorProfile:
    """Set (or with None remove) the profile's pin; a pin that matches nothing is refused
    (ServiceError). Audited with the connections it moved (all of the profile's when it now
    resolves to another version)."""
    written = profile_services.profile_pin_write(profile=profile, pin=pin)
    if not written.changed:  # the same pin: nothing is audited
        return written.profile
    moved = count_on_profile(written.profile) if written.moved else 0
    profile_services.profile_pin_audit(actor=actor, written=written, connections_moved=moved)
    return written.profile
