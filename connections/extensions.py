"""Where higher apps add to the connection pages (registered in their ``AppConfig.ready()``).

- ``connection_page``: ``request``, ``access``, ``connection`` (the overview tab);
- ``connection_timeline``: ``connection``, ``before`` (a datetime or None), ``limit``; each
  provider returns ``{"timeline_items": [selectors.TimelineItem, ...]}``, newest first, at most
  ``limit`` before ``before`` (the request log's summaries, say).
"""

from projects.extensions import PagePanels

connection_page = PagePanels("connection page")
connection_timeline = PagePanels("connection timeline")
