"""Signals of the connectors app that higher apps connect to in their ``AppConfig.ready()``."""

from django.dispatch import Signal

# Sent by ``services.connector_version_delete`` with ``version`` (published, locked) before it
# is deleted. A receiver raises ``projects.services.ConflictError`` to refuse: the profiles app
# does while a profile resolves to the version.
version_deleting = Signal()

# Sent by the publishing services before a write that can change what profiles resolve to,
# with ``connector_id``, ``project`` (the version's owner; None for a built-in version),
# ``cause`` (publish, overwrite, unpublish) and ``version`` (the number written). A receiver
# may return a callable: the service calls it, without arguments, once the write is done
# (same transaction). The profiles app compares every affected profile's resolution before
# and after and announces the moves.
resolutions_changing = Signal()
