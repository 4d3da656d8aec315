"""Dashboard forms of Settings → Webhooks (the services check the same rules again)."""

from __future__ import annotations

from django import forms

from core.forms import TextField
from events import services
from events.models import ALL_EVENTS, EVENT_TYPES, DeliveryStatus


class EndpointForm(forms.Form):
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
    status = forms.ChoiceField(
        choices=[("", "Any status"), *DeliveryStatus.choices],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    after = forms.CharField(required=False, max_length=500)
    before = forms.CharField(required=False, max_length=500)
