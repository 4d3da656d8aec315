from typing import Any

from django import forms

from core.forms import MultilineTextField, TextField
from dashboard.projects.forms import StyledForm

DESCRIPTION_MAX_CHARS = 2000


class CompareForm(StyledForm):
    a = forms.IntegerField(label="Version")
    b = forms.IntegerField(label="against")


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PublishForm(forms.Form):
    """The upload page (preview and publish): the chosen files, or the ones kept in the page
    after a refused publish (``kept_name`` / ``kept_body``), and the publish options. The
    files are checked by the definition parser, not here."""

    kept_name = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    kept_body = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    force = forms.BooleanField(required=False)
    acknowledge_breaking = forms.BooleanField(required=False)
    confirm_moves = forms.BooleanField(required=False)  # profiles moved across a major
    action = TextField(required=False)
    description = MultilineTextField(
        label="The description", required=False, strip=False, max_length=DESCRIPTION_MAX_CHARS
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Added here: a field declared on the class as ``files`` would shadow ``Form.files``.
        self.fields["files"] = forms.Field(required=False, widget=MultipleFileInput)

    @property
    def draft(self) -> bool:
        return self.cleaned_data.get("action") == "draft"

    def kept(self) -> list[tuple[str, str]]:
        """(name, text) of the files kept in the page, paired in order."""
        data: dict[str, Any] = self.cleaned_data
        return list(zip(data.get("kept_name") or [], data.get("kept_body") or [], strict=False))


class VersionPublishForm(forms.Form):
    """Publishing a draft from its version page."""

    acknowledge_breaking = forms.BooleanField(required=False)
