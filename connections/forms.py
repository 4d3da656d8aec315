"""The connections list's query string (filters, sort, page size): read by the list page and
again by a "select all matching" run when it starts (services.bulk_runs)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from core.forms import IdField, SearchField, TextField
from projects.services import ServiceError

from . import selectors

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25  # the first of the choices that is at least this


def per_page_choices() -> tuple[int, ...]:
    """Page sizes offered (``CONNECTIONS_PER_PAGE_CHOICES`` overrides, e.g. in tests)."""
    return tuple(getattr(settings, "CONNECTIONS_PER_PAGE_CHOICES", PER_PAGE_CHOICES))


def default_per_page() -> int:
    choices = per_page_choices()
    return next((n for n in choices if n >= DEFAULT_PER_PAGE), choices[-1])


class ConnectionFilterForm(forms.Form):
    """The list's query string: filters, sort and page size (the cursor is checked by the
    pager). ``filters`` gives the selector's Filters."""

    profile = IdField(error_messages={"invalid": "Choose a profile from the list."})
    per_page = TextField(required=False)
    q = SearchField()
    connector = TextField(required=False)
    status = TextField(required=False)
    health = TextField(required=False)
    version = TextField(required=False)
    sort = TextField(required=False)
    dir = TextField(required=False)
    after = TextField(required=False)
    before = TextField(required=False)

    def clean_per_page(self) -> int:
        raw = self.cleaned_data["per_page"]
        try:
            per_page = int(raw) if raw else default_per_page()
        except ValueError:
            per_page = 0
        if per_page not in per_page_choices():
            allowed = ", ".join(map(str, per_page_choices()))
            raise forms.ValidationError(f"Rows per page must be one of {allowed}.")
        return per_page

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                data["filters"] = selectors.Filters(
                    search=data["q"],
                    connector_key=data["connector"],
                    profile_id=data["profile"],
                    status=data["status"],
                    health=data["health"],
                    version=data["version"],
                    sort_by=data["sort"] or "created_at",
                    sort_dir=data["dir"] or "desc",
                )
            except ServiceError as exc:
                raise forms.ValidationError(exc.message) from exc
        return data

    @property
    def filters(self) -> selectors.Filters:
        return self.cleaned_data["filters"]
