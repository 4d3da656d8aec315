"""The one slot left here (its use moves into the services): ``pin_change``: ``profile``;
``connections``: how many connections are on the profile (what a pin change moves; the
confirmation step and the audit entry state it). Registered in ``ConnectionsConfig.ready()``.
"""

from projects.extensions import PagePanels

pin_change = PagePanels("pin change")
