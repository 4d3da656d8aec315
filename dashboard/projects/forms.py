from typing import Any

from django import forms

from core.forms import SearchField, TextField
from projects.models import ApiKeyScope, Role, slug_validator
from projects.preferences import is_time_zone


class SearchForm(forms.Form):
    """A search box: ``q`` stripped, at most ``core.forms.MAX_SEARCH`` characters (a form
    error beyond, never a cut)."""

    q = SearchField()


class PageForm(forms.Form):
    """``page`` of a paged table, for ``Paginator.get_page``: a page that is not a number is
    the first page, one past the end the last."""

    page = forms.IntegerField(required=False)


class StyledForm(forms.Form):
    """Adds Bootstrap's classes to every widget, so templates render ``field.as_field_group``;
    labels without Django's colon ("Action", not "Action:"), as the rest of the dashboard."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


class ProjectForm(StyledForm):
    name = TextField(max_length=200)
    slug = forms.SlugField(
        max_length=63,
        validators=[slug_validator],
        help_text="Used in URLs and by the API and commands; it never changes.",
    )


class OrganizationForm(StyledForm):
    organization_name = TextField(max_length=200, label="Organization name")
    organization_slug = forms.SlugField(
        max_length=63, validators=[slug_validator], label="Organization slug"
    )
    project_name = TextField(max_length=200, label="First project name", initial="Production")
    project_slug = forms.SlugField(
        max_length=63, validators=[slug_validator], label="First project slug"
    )


class ProjectRenameForm(StyledForm):
    name = TextField(max_length=200)


class MemberAddForm(StyledForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(StyledForm):
    role = forms.ChoiceField(choices=Role.choices)


class TeamForm(StyledForm):
    name = TextField(max_length=100)


class TeamMemberForm(StyledForm):
    team = forms.IntegerField()
    user = forms.IntegerField()


class MemberFilterForm(SearchForm, PageForm):
    """The members table: search on username or email, and its page."""


class TeamMemberRemoveForm(forms.Form):
    user = forms.IntegerField(min_value=0)


class ApiKeyForm(StyledForm):
    name = TextField(
        max_length=100,
        help_text="What uses this key.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. CI deploy"}),
    )
    scope = forms.ChoiceField(
        choices=ApiKeyScope.choices,
        initial=ApiKeyScope.FULL,
        required=False,
        help_text="Read-only keys may only GET; any write answers 403.",
    )

    def clean_scope(self) -> str:
        # Left out (an older script posting only the name): the default, full.
        return self.cleaned_data.get("scope") or ApiKeyScope.FULL.value


class AuditFilterForm(StyledForm):
    action = TextField(required=False, max_length=64)
    actor = TextField(required=False, max_length=200)
    target_type = TextField(required=False, max_length=64, label="Target")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class AuditCursorForm(forms.Form):
    """Where an audit page starts: just older than ``before`` or just newer than ``after``
    (entry ids); a cursor that is not a whole number is ignored."""

    before = forms.IntegerField(required=False, min_value=0)
    after = forms.IntegerField(required=False, min_value=0)


class DangerZoneForm(StyledForm):
    immutable_versioning = forms.BooleanField(required=False)
    confirmation = TextField(max_length=63, label="Type the project slug to confirm")


class TimeZoneForm(forms.Form):
    """The profile menu: an IANA time zone name (``Europe/Berlin``), and where to go back to."""

    time_zone = TextField(label="The time zone", max_length=64)
    next = TextField(required=False, max_length=2000)

    def clean_time_zone(self) -> str:
        name: str = self.cleaned_data["time_zone"]
        if not is_time_zone(name):
            raise forms.ValidationError(
                f"“{name}” is not a time zone name; use one like UTC or Europe/Berlin."
            )
        return name
