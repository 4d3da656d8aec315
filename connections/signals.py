"""Signals of the connections app that higher apps connect to in their ``AppConfig.ready()``."""

from django.dispatch import Signal

# Sent with ``profile_id`` when a connection came onto or left a profile (created, deleted,
# moved by re-authentication): now, and again after the commit. The rollouts app counts that
# profile's migration figures afresh.
profile_connections_changed = Signal()
