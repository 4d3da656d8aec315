"""Signals of the connectors app that higher apps connect to in their ``AppConfig.ready()``."""

from django.dispatch import Signal

# Sent by ``services.connector_version_delete`` with ``version`` (published, locked) before it
# is deleted. A receiver raises ``projects.services.ConflictError`` to refuse: the profiles app
# does while a profile resolves to the version.
version_deleting = Signal()
