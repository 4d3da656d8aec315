"""The query strings and POST bodies of the connection pages (the hosted connect pages' are
in connect/forms.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.http import QueryDict

from connections import selectors
from connections.models import Status, Theme
from connections.services import branding, connect
from core.forms import (
    WIDGETS_BY_JINJA2,
    IdField,
    IdListField,
    MultilineTextField,
    SearchField,
    SelectionForm,
    TextField,
    parse_id,
)
from dashboard.projects.forms import StyledForm
from projects.services import ServiceError

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25  # the first of the choices that is at least this
MAX_BULK = 200
BULK_ACTIONS = {
    "check_health": "Check health",
    "disable": "Disable",
    "enable": "Enable",
    "delete": "Delete",
}
SORT_CHOICES = [
    ("created_at", "Created"),
    ("updated_at", "Updated"),
    ("name", "Name"),
    ("last_used_at", "Last used"),
    ("health_checked_at", "Last checked"),
]
EXPIRY_CHOICES = [
    (connect.DEFAULT_LIFETIME, "30 minutes"),
    (24 * 3600, "1 day"),
    (connect.MAX_LIFETIME, "5 days"),
]


def per_page_choices() -> tuple[int, ...]:
    """Page sizes offered (``CONNECTIONS_PER_PAGE_CHOICES`` overrides, e.g. in tests)."""
    return tuple(getattr(settings, "CONNECTIONS_PER_PAGE_CHOICES", PER_PAGE_CHOICES))


def default_per_page() -> int:
    choices = per_page_choices()
    return next((n for n in choices if n >= DEFAULT_PER_PAGE), choices[-1])


# --- The list ------------------------------------------------------------------------------


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


class ConnectionBulkForm(SelectionForm):
    """One action on the selected rows (``confirmed=yes`` after a delete's confirmation);
    ``next`` is where to return (checked by the view)."""

    action = TextField(required=False)
    ids = IdListField(
        error_messages={"invalid": "The selection holds something that is not a connection id."}
    )
    page_ids = IdListField(
        error_messages={"invalid": "The selection holds something that is not a connection id."}
    )
    confirmed = TextField(required=False)
    next = TextField(required=False, strip=False)
    field_order = ["action", "ids", "page_ids", "all_on_page"]

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        if action not in BULK_ACTIONS:
            raise forms.ValidationError("Choose an action for the selection.")
        return str(action)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            if not self.selected:
                raise forms.ValidationError("Select at least one connection.")
            if len(self.selected) > MAX_BULK:
                raise forms.ValidationError(f"Select at most {MAX_BULK} connections at a time.")
        return data


LIST_COLUMN_CHOICES = [
    ("connector", "Connector"),
    ("profile", "Profile"),
    ("status", "Status"),
    ("health", "Health"),
    ("version", "Version"),
    ("last_checked", "Last checked"),
    ("last_used", "Last used"),
    ("created", "Created"),
]


class ColumnsForm(forms.Form):
    """The list's column choice (the account column always shows)."""

    columns = forms.MultipleChoiceField(choices=LIST_COLUMN_CHOICES, required=False)
    next = TextField(required=False, strip=False, max_length=2000)


class BulkAllMatchingForm(forms.Form):
    """ "Select all N matching": the action and the list's filters (a query string, parsed by
    ConnectionFilterForm: ``filters``)."""

    action = TextField(required=False)
    matching_query = TextField(required=False, strip=False, max_length=2000)

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        if action not in BULK_ACTIONS:
            raise forms.ValidationError("Choose an action for the selection.")
        return str(action)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            listing = ConnectionFilterForm(QueryDict(data["matching_query"]))
            if not listing.is_valid():
                raise forms.ValidationError(
                    "These filters are not valid any more; filter the list again."
                )
            data["filters"] = listing.filters
        return data


# --- One connection --------------------------------------------------------------------------


class DetailTabForm(forms.Form):
    tab = TextField(required=False)

    @property
    def tab_name(self) -> str:
        return "access" if self.is_valid() and self.cleaned_data["tab"] == "access" else "overview"


class TimelineForm(forms.Form):
    """``?before=<ISO time>``: the timeline page that ends before that moment."""

    before = forms.DateTimeField(required=False)


class RenameForm(forms.Form):
    name = TextField(label="The name", required=False, strip=False, max_length=200)


class StatusForm(forms.Form):
    status = TextField(required=False)

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status not in (Status.ACTIVE, Status.DISABLED):
            raise forms.ValidationError("Choose to disable or to enable the connection.")
        return str(status)


class GrantForm(forms.Form):
    """A grant's subject as ``subject=user:12`` (the add form's one select) or
    ``subject_type`` + ``subject_id``, and its role (the service checks them)."""

    subject = TextField(required=False)
    subject_type = TextField(required=False)
    subject_id = TextField(required=False)
    role = TextField(required=False)

    def subject_of(self) -> tuple[str, str]:
        data = self.cleaned_data
        if data["subject"]:
            subject_type, _, subject_id = data["subject"].partition(":")
            return subject_type, subject_id
        return data["subject_type"], data["subject_id"]


class OrgRoleForm(forms.Form):
    role = TextField(required=False)  # the service checks it


# --- Connect links -----------------------------------------------------------------------------


def _expiry_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label="Valid for", choices=EXPIRY_CHOICES, coerce=int, initial=connect.DEFAULT_LIFETIME
    )


class _ProfileChoice:
    """The profile chosen in the link panel's select (its public id), or ``default`` when the
    field is absent."""

    data: Any

    def chosen_profile(self, default: UUID | None) -> UUID:
        raw = self.data.get("profile")
        if raw is None or not str(raw).strip():
            if default is None:
                raise ServiceError("Choose a profile.", field="profile")
            return default
        try:
            pk = parse_id(raw)
        except ValueError as exc:
            raise ServiceError("Choose a profile from the list.", field="profile") from exc
        assert pk is not None
        return pk


def _locale_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Language",
        choices=[("", "The end user's browser language"), *settings.LANGUAGES],
        required=False,
    )


class LinkForm(_ProfileChoice, forms.Form):
    """The end user a new link is for, and how long it stays valid."""

    default_renderer = WIDGETS_BY_JINJA2  # on every connection page

    origin_owner_id = TextField(
        label="End user id",
        max_length=255,
        help_text="Your own id for this end user (origin owner id); the connection keeps it.",
    )
    origin_owner_name = TextField(label="Name", max_length=255, required=False)
    email = forms.EmailField(label="Email", max_length=254, required=False)
    expires_in = _expiry_field()
    locale = _locale_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "link-%s")
        super().__init__(*args, **kwargs)
        for name, bound in self.fields.items():
            css = "form-select" if name in ("expires_in", "locale") else "form-control"
            bound.widget.attrs["class"] = css
        self.fields["origin_owner_id"].widget.attrs["autocomplete"] = "off"

    def origin(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "origin_owner_id": data["origin_owner_id"],
            "origin_owner_name": data["origin_owner_name"],
            "email": data["email"],
        }


class ReauthForm(_ProfileChoice, forms.Form):
    """Re-authentication: the origin fields come from the connection; only the expiry."""

    default_renderer = WIDGETS_BY_JINJA2  # on every connection page

    expires_in = _expiry_field()
    locale = _locale_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "link-%s")
        super().__init__(*args, **kwargs)
        self.fields["expires_in"].widget.attrs["class"] = "form-select"
        self.fields["locale"].widget.attrs["class"] = "form-select"
        # Empty: the language the account was connected in, else the browser's (connect.
        # connection_locale); the empty option says so, and the help no longer contradicts it.
        locale = self.fields["locale"]
        assert isinstance(locale, forms.ChoiceField)
        locale.choices = [("", "The language it was connected in"), *settings.LANGUAGES]
        locale.help_text = "When that is unknown: the end user's browser language."


class BrandingForm(StyledForm):
    """Settings → Connect pages (the service checks every value again)."""

    display_name = TextField(
        label="Display name",
        max_length=80,
        required=False,
        help_text="What end users see instead of the project's name (default: the organization's).",
    )
    logo = forms.FileField(
        label="Logo",
        required=False,
        help_text="PNG, JPEG or WebP, at most 512 KB; shown at 40 px high. SVG is not accepted.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)
    primary_color = TextField(
        label="Primary colour",
        max_length=7,
        required=False,
        help_text="Buttons and focus rings. Checked for contrast (WCAG AA).",
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    theme = forms.ChoiceField(label="Theme", choices=Theme.choices)
    terms_url = TextField(label="Terms URL", max_length=500, required=False)
    privacy_url = TextField(label="Privacy policy URL", max_length=500, required=False)
    support_email = TextField(label="Support email", max_length=254, required=False)
    allowed_origins = MultilineTextField(
        label="Allowed origins",
        max_length=4000,
        required=False,
        help_text=(
            "One per line, such as https://app.example.com. Connect sessions may send end "
            "users back to these only (success_url, error_url), the popup reports to them, and "
            "only they may embed the page in an iframe."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remove_logo"].widget.attrs["class"] = "form-check-input ms-2"
        self.fields["primary_color"].widget.attrs["class"] = "form-control form-control-color"

    def clean_logo(self) -> bytes | None:
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > branding.MAX_LOGO_BYTES:  # before reading it
            raise forms.ValidationError(
                f"The logo must be at most {branding.MAX_LOGO_BYTES // 1024} KB."
            )
        return bytes(upload.read())

    def origins(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("allowed_origins", "").splitlines()
            if line.strip()
        ]
