"""Form pieces that several apps' query strings and POST bodies share."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from django import forms
from django.forms import renderers as django_forms
from django.forms.renderers import Jinja2
from django.utils.functional import cached_property

from .validation import MAX_SEARCH, text_problem


class _Jinja2Widgets(Jinja2):
    """Django's Jinja2 form renderer, with core/widgets/ before Django's widget templates: its
    select.html inlines the include (and attrs) of every option (~0.1 ms less a select of six
    options; tests/core/test_forms.py compares the markup with Django's)."""

    @cached_property
    def engine(self) -> Any:
        return self.backend(
            {
                "APP_DIRS": True,
                "DIRS": [
                    Path(__file__).parent / "widgets",
                    Path(django_forms.__file__).parent / "jinja2",
                ],
                "NAME": "djangoforms-inlined",
                "OPTIONS": {},
            }
        )


# Widgets rendered through Jinja2 (Django's own jinja2 widget templates, the same markup): for
# forms on hot pages, such as the connection page's link form, whose two selects cost ~3 ms
# through the Django engine (bench/connections.py). Only for forms of Django's built-in
# widgets: the admin's widgets have Django templates only. One instance, so one environment.
WIDGETS_BY_JINJA2 = _Jinja2Widgets()

MAX_ID_CHARS = 45  # the longest form of a UUID: "urn:uuid:" and 36 characters


def parse_id(raw: object) -> UUID | None:
    """A row's public id (a UUID, docs/api.md "Ids") sent as text: None when empty;
    ValueError when not a UUID."""
    value = str(raw if raw is not None else "").strip()
    if not value:
        return None
    if len(value) > MAX_ID_CHARS:  # no work on long input
        raise ValueError(value)
    return UUID(value)


class IdField(forms.CharField):
    """One public id (a select's value): None when empty, the ``invalid`` message otherwise."""

    default_error_messages = {"invalid": "Choose an item from the list."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> UUID | None:  # type: ignore[override]
        try:
            return parse_id(value)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class IdListField(forms.Field):
    """Ticked rows' public ids (repeated form fields), each once, in the order sent."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "The selection holds something that is not an id."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[UUID]:
        ids: list[UUID] = []
        for raw in value or []:
            try:
                pk = parse_id(raw)
            except ValueError as exc:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
            if pk is not None:
                ids.append(pk)
        return list(dict.fromkeys(ids))


class TextField(forms.CharField):
    """Single-line text through the input boundary (``core.validation``): no control or bidi
    override characters, and ``max_length`` refused with the limit named, never cut. The
    message starts with the field's ``label`` (or "The text")."""

    multiline = False

    def validate(self, value: Any) -> None:
        super().validate(value)
        if isinstance(value, str) and value:
            problem = text_problem(value, multiline=self.multiline)
            if problem is not None:
                raise forms.ValidationError(f"{self.label or 'The text'} {problem}.", code="text")

    def run_validators(self, value: Any) -> None:
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            raise forms.ValidationError(
                f"{self.label or 'The text'} "
                f"{text_problem(value, max_length=self.max_length, multiline=True)}.",
                code="max_length",
            )
        super().run_validators(value)


class MultilineTextField(TextField):
    """A textarea's text: tab and newlines allowed, other control characters refused."""

    multiline = True


class SearchField(TextField):
    """A table's search box: stripped, at most MAX_SEARCH characters (a form error beyond)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_SEARCH)
        kwargs.setdefault("label", "The search")
        super().__init__(**kwargs)


class SelectionForm(forms.Form):
    """The ticked rows of a table, or every row of the page when "select all on this page" is
    ticked (that works without JavaScript: the page's ids travel as hidden fields)."""

    ids = IdListField()
    page_ids = IdListField()
    all_on_page = forms.BooleanField(required=False)

    @property
    def selected(self) -> list[UUID]:
        data = self.cleaned_data
        return data["page_ids"] if data.get("all_on_page") else data["ids"]


def first_error(form: forms.Form) -> tuple[str | None, str]:
    """(field name or None, message) of the form's first error, fields in declaration order,
    then the errors of ``clean()``."""
    for name in form.fields:
        if name in form.errors:
            return name, str(form.errors[name][0])
    errors = form.non_field_errors()
    return None, str(errors[0]) if errors else ""


def plural(n: int, word: str) -> str:
    """ "1 connection", "2,500 connections"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
