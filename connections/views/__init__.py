"""The dashboard's connection pages, by job: the list and bulk actions (``table``), one
connection (``detail``), its Access tab (``access``), connect links (``links``), and the end
users' hosted connect pages (``hosted``)."""
