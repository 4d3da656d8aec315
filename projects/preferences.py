"""The dashboard user's preferences: the time zone (kept in the session, so reading it costs no
query per page) and the columns chosen per table."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .models import UserPreference

TIME_ZONE_SESSION_KEY = "dashboard_time_zone"
DEFAULT_TIME_ZONE = "UTC"
COMMON_TIME_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    return name in known_time_zones()


def preference_of(user: AbstractBaseUser | AnonymousUser) -> UserPreference | None:
    if not user.is_authenticated:
        return None
    return UserPreference.objects.filter(user_id=user.pk).first()


def time_zone_set(*, request: HttpRequest, name: str) -> None:
    """Store the user's time zone (checked by the caller) and use it from this request on."""
    user_id = request.user.pk
    assert user_id is not None  # the view is behind login_required
    UserPreference.objects.update_or_create(user_id=user_id, defaults={"time_zone": name})
    request.session[TIME_ZONE_SESSION_KEY] = name
    timezone.activate(zoneinfo.ZoneInfo(name))


COLUMNS_SESSION_KEY = "dashboard_columns"


def columns_of(request: HttpRequest, table: str, choices: Sequence[str]) -> list[str]:
    """The columns the user chose for ``table`` (from the session: no query), all by default."""
    chosen = (request.session.get(COLUMNS_SESSION_KEY) or {}).get(table)
    if not isinstance(chosen, list):
        return list(choices)
    return [c for c in choices if c in chosen]


def columns_set(*, request: HttpRequest, table: str, columns: Sequence[str]) -> None:
    """Remember the user's columns for ``table`` (stored, and kept in the session)."""
    user_id = request.user.pk
    assert user_id is not None  # behind login_required
    preference, _ = UserPreference.objects.get_or_create(user_id=user_id)
    preference.columns = {**preference.columns, table: list(columns)}
    preference.save(update_fields=["columns"])
    request.session[COLUMNS_SESSION_KEY] = preference.columns


def load_on_login(sender: Any, request: HttpRequest, user: AbstractBaseUser, **_: Any) -> None:
    """user_logged_in: copy the stored time zone into the new session (one query per login)."""
    preference = preference_of(user)
    if preference is None:
        return
    if is_time_zone(preference.time_zone):
        request.session[TIME_ZONE_SESSION_KEY] = preference.time_zone
    if preference.columns:
        request.session[COLUMNS_SESSION_KEY] = preference.columns


class UserTimeZoneMiddleware:
    """Every time on a dashboard page in the user's time zone (UTC unless they chose one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = DEFAULT_TIME_ZONE
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = request.session.get(TIME_ZONE_SESSION_KEY, DEFAULT_TIME_ZONE)
        if name != DEFAULT_TIME_ZONE and is_time_zone(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        request.time_zone_name = name if is_time_zone(name) else DEFAULT_TIME_ZONE  # type: ignore[attr-defined]
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
