"""Where higher apps add to the connector pages (registered in their ``AppConfig.ready()``).

Each slot is called with keyword arguments and merges the providers' context entries:

- ``connector_page``: ``request``, ``access``, ``connector``, ``partial`` (an HTMX swap of
  the versions table: only what that table needs);
- ``version_page``: ``request``, ``access``, ``version``;
- ``upload_preview``: ``project``, ``preview`` (a ``services.PushPreview``).
"""

from projects.extensions import PagePanels

connector_page = PagePanels("connector page")
version_page = PagePanels("version page")
upload_preview = PagePanels("upload preview")
