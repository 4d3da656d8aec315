from typing import Any

from django import forms

from .models import Role, slug_validator


class StyledForm(forms.Form):
    """Adds Bootstrap's classes to every widget, so templates render ``field.as_field_group``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


class ProjectForm(StyledForm):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=63,
        validators=[slug_validator],
        help_text="Used in URLs and by the API and commands; it never changes.",
    )


class OrganizationForm(StyledForm):
    organization_name = forms.CharField(max_length=200, label="Organization name")
    organization_slug = forms.SlugField(
        max_length=63, validators=[slug_validator], label="Organization slug"
    )
    project_name = forms.CharField(max_length=200, label="First project name", initial="Production")
    project_slug = forms.SlugField(
        max_length=63, validators=[slug_validator], label="First project slug"
    )


class ProjectRenameForm(StyledForm):
    name = forms.CharField(max_length=200)


class MemberAddForm(StyledForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(StyledForm):
    role = forms.ChoiceField(choices=Role.choices)


class TeamForm(StyledForm):
    name = forms.CharField(max_length=100)


class TeamMemberForm(StyledForm):
    team = forms.IntegerField()
    user = forms.IntegerField()


class ApiKeyForm(StyledForm):
    name = forms.CharField(
        max_length=100,
        help_text="What uses this key.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. CI deploy"}),
    )


class AuditFilterForm(StyledForm):
    action = forms.CharField(required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=200)
    target_type = forms.CharField(required=False, max_length=64, label="Target")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class DangerZoneForm(StyledForm):
    immutable_versioning = forms.BooleanField(required=False)
    confirmation = forms.CharField(max_length=63, label="Type the project slug to confirm")
