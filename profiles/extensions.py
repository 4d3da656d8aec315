"""Where higher apps add to the profile pages (registered in their ``AppConfig.ready()``).

- ``profile_list``: ``request``, ``access``; entries for the profiles list;
- ``profile_page``: ``request``, ``access``, ``profile``, ``version`` (what it resolves to,
  or None);
- ``pin_change``: ``profile``; ``connections``: how many connections are on the profile (what
  a pin change moves; the confirmation step and the audit entry state it).
"""

from projects.extensions import PagePanels

profile_list = PagePanels("profile list")
profile_page = PagePanels("profile page")
pin_change = PagePanels("pin change")
