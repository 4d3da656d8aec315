"""Where higher apps add to the connection pages (registered in their ``AppConfig.ready()``).

- ``connection_page``: ``request``, ``access``, ``connection`` (the overview tab).
"""

from projects.extensions import PagePanels

connection_page = PagePanels("connection page")
