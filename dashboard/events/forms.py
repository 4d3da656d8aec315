"""Dashboard forms of Settings → Webhooks (the services check the same rules again)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.forms import TextField
from events import services
from events.models import ALL_EVENTS, EVENT_TYPES, DeliveryStatus


class EndpointForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # "URL", not "URL:": no colon in the dashboard
        super().__init__(*args, **kwargs)

    url = TextField(
        label="URL",
        max_length=services.URL_MAX_CHARS,
        help_text="Where we POST the events (https).",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(ALL_EVENTS, "All events (*)"), *[(e, e) for e in EVENT_TYPES]],
        widget=forms.CheckboxSelectMultiple,
        initial=[ALL_EVENTS],
    )
    description = TextField(
        label="Description",
        max_length=services.DESCRIPTION_MAX_CHARS,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class DeliveryFilterForm(forms.Form):
    event_type = forms.ChoiceField(
        label="Event type",
        choices=[("", "Any event"), *[(e, e) for e in EVENT_TYPES]],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    status = forms.ChoiceField(
        label="Status",
        choices=[("", "Any status"), *DeliveryStatus.choices],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    connection = forms.UUIDField(
        label="Connection id",
        required=False,
        error_messages={"invalid": "A connection id looks like 8c5e…-…: a UUID."},
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": "Connection id"}
        ),
    )
    after = forms.CharField(required=False, max_length=500)
    before = forms.CharField(required=False, max_length=500)
