"""The dashboard's migration pages, by job: pages, actions, the CSV export."""

from .actions import (
    migration_complete,
    migration_link_create,
    migration_notify,
    migration_schedule,
)
from .exports import migration_export
from .pages import migration_detail, migration_list, migration_new, migration_start

__all__ = [
    "migration_complete",
    "migration_detail",
    "migration_export",
    "migration_link_create",
    "migration_list",
    "migration_new",
    "migration_notify",
    "migration_schedule",
    "migration_start",
]
