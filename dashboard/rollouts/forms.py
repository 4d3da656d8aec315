"""The query strings and POST bodies of the migration pages."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from django import forms
from django.utils import timezone

from connections.models import Status
from connections.selectors import Filters
from core.forms import (
    IdField,
    IdListField,
    MultilineTextField,
    SearchField,
    SelectionForm,
    TextField,
    parse_id,
)

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 25
PENDING_SORTS = [("created_at", "Created"), ("name", "Name")]
NOTICE_FILTERS = [("never", "Never sent"), ("sent", "Sent")]
MAX_SELECTED = 1000


class ProfileIdField(IdField):
    default_error_messages = {
        "invalid": "Choose a profile from the list.",
        "required": "Choose a profile.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.required = True

    def validate(self, value: Any) -> None:
        if value is None:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class DeadlineField(forms.CharField):
    """A date input (YYYY-MM-DD) as the end of that day in the current time zone."""

    default_error_messages = {"invalid": "Enter the deadline as a date (YYYY-MM-DD)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> datetime | None:
        raw = str(super().clean(value) or "")
        if not raw:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


class MigrationNewForm(forms.Form):
    """Starting a migration by hand (the profiles are looked up in the project by the view:
    another project's id is a 404, not a form error)."""

    from_profile = ProfileIdField()
    to_profile = ProfileIdField()
    title = TextField(label="The title", required=False, strip=False, max_length=200)
    message = MultilineTextField(label="The message", required=False, strip=False)
    deadline = DeadlineField()
    make_default = forms.BooleanField(required=False)  # the form shows it checked


class MigrationStartForm(forms.Form):
    """Starting from a breaking release: a new ``<major>.x.x`` profile and the migration.
    Setup values arrive as ``setup_<key>`` fields (``setup_values``)."""

    from_profile = ProfileIdField()
    profile_name = TextField(label="The profile name", required=False, max_length=100)
    title = TextField(label="The title", required=False, strip=False, max_length=200)
    message = MultilineTextField(label="The message", required=False, strip=False)
    deadline = DeadlineField()
    make_default = forms.BooleanField(required=False)  # the form shows it checked
    action = TextField(required=False)

    def setup_values(self, keys: list[str]) -> dict[str, str]:
        """What was typed for the given setup fields (blank ones left out)."""
        typed = {key: str(self.data.get(f"setup_{key}", "")) for key in keys}
        return {key: value for key, value in typed.items() if value.strip()}


def wanted_profile(raw: object) -> UUID | None:
    """The ``from_profile`` a start link preselects; anything but a public id is ignored."""
    try:
        return parse_id(raw)
    except ValueError:
        return None


class PendingFilterForm(forms.Form):
    """The pending-accounts table's query string: search, status, notice state, sort and
    page size (the cursor is checked by the pager)."""

    notice = TextField(required=False)
    per_page = TextField(required=False)
    sort = TextField(required=False)
    dir = TextField(required=False)
    status = TextField(required=False)
    q = SearchField()
    after = TextField(required=False)
    before = TextField(required=False)

    def clean_notice(self) -> str:
        notice = self.cleaned_data["notice"]
        if notice and notice not in dict(NOTICE_FILTERS):
            raise forms.ValidationError("Choose a notice state from the list.")
        return str(notice)

    def clean_per_page(self) -> int:
        raw = self.cleaned_data["per_page"]
        try:
            per_page = int(raw) if raw else DEFAULT_PER_PAGE
        except ValueError:
            per_page = 0
        if per_page not in PER_PAGE_CHOICES:
            allowed = ", ".join(map(str, PER_PAGE_CHOICES))
            raise forms.ValidationError(f"Rows per page must be one of {allowed}.")
        return per_page

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"] or "created_at"
        if sort not in dict(PENDING_SORTS):
            raise forms.ValidationError("Sort by created or name.")
        return str(sort)

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status and status not in Status.values:
            raise forms.ValidationError(f"Unknown status “{status}”.")
        return str(status)

    def clean_dir(self) -> str:
        direction = self.cleaned_data["dir"] or "desc"
        if direction not in ("asc", "desc"):
            raise forms.ValidationError("sort_dir must be asc or desc.")
        return str(direction)

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            search=data["q"], status=data["status"], sort_by=data["sort"], sort_dir=data["dir"]
        )


class NotifyForm(SelectionForm):
    """Whom the reconnect email goes to: the selected pending accounts, or all of them
    (``confirmed=yes`` after the confirmation page)."""

    ids = IdListField(
        error_messages={"invalid": "The selection holds something that is not an account id."}
    )
    page_ids = IdListField(
        error_messages={"invalid": "The selection holds something that is not an account id."}
    )
    scope = TextField(required=False)
    confirmed = TextField(required=False)
    field_order = ["scope", "confirmed", "ids", "page_ids", "all_on_page"]

    def clean_scope(self) -> str:
        scope = self.cleaned_data["scope"] or "selected"
        if scope not in ("all", "selected"):
            raise forms.ValidationError("Choose whom to send the reconnect email to.")
        return str(scope)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "selected" and not self.errors:
            ids = self.selected
            if not ids:
                raise forms.ValidationError("Select at least one pending account.")
            if len(ids) > MAX_SELECTED:
                raise forms.ValidationError(f"Select at most {MAX_SELECTED:,} accounts at a time.")
        return data

    @property
    def all_confirmed(self) -> bool:
        return self.cleaned_data.get("confirmed") == "yes"


class ConfirmForm(forms.Form):
    confirmed = TextField(required=False)

    @property
    def is_confirmed(self) -> bool:
        return self.is_valid() and self.cleaned_data["confirmed"] == "yes"


# --- Staged rollouts -----------------------------------------------------------------------


class RolloutForm(forms.Form):
    """The new-rollout form: the knobs with docs/api.md's defaults and bounds."""

    to_version = forms.CharField(max_length=255)
    target_pin = forms.CharField(max_length=255, required=False)
    steps = forms.CharField(max_length=100, initial="5, 25, 50, 100")
    min_soak_minutes = forms.IntegerField(min_value=0, max_value=10080, initial=10)
    min_requests = forms.IntegerField(min_value=1, max_value=100_000, initial=20)
    max_error_rate_increase = forms.FloatField(min_value=0, max_value=1, initial=0.05)
    on_regression = forms.ChoiceField(
        choices=[("pause", "Pause"), ("rollback", "Roll back")], initial="pause"
    )
    auto_advance = forms.BooleanField(required=False, initial=True)
    auto_promote = forms.BooleanField(required=False, initial=False)

    def clean_steps(self) -> list[int]:
        raw = self.cleaned_data["steps"]
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError as exc:
            raise forms.ValidationError(
                "Steps are whole percentages, e.g. 5, 25, 50, 100."
            ) from exc


class ScheduleForm(forms.Form):
    """A migration's deadline, what happens at it, and the reminder days before it."""

    deadline = DeadlineField()
    deadline_action = forms.ChoiceField(
        choices=[("none", "Nothing"), ("disable", "Disable the pending accounts")]
    )
    reminder_days = forms.CharField(max_length=60, required=False)

    def clean_reminder_days(self) -> list[int]:
        raw = self.cleaned_data["reminder_days"]
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError as exc:
            raise forms.ValidationError("Reminder days are whole numbers, e.g. 14, 7, 1.") from exc
