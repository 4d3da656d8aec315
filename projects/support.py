"""The ``support`` group: view-only permissions on every model of the project's apps."""

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission

SUPPORT_GROUP = "support"
SUPPORT_APPS = ("projects", "connectors", "profiles", "connections", "auth")


def ensure_support_group() -> Group:
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    permissions = Permission.objects.filter(
        content_type__app_label__in=SUPPORT_APPS, codename__startswith="view_"
    )
    group.permissions.set(permissions)
    return group


def sync_support_group(sender: object, **kwargs: object) -> None:
    """post_migrate: keep the group's view permissions complete as apps add models."""
    if global_apps.is_installed("django.contrib.auth"):
        ensure_support_group()
