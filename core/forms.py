"""Form pieces that several apps' query strings and POST bodies share."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms

MAX_ID_CHARS = 45  # the longest form of a UUID: "urn:uuid:" and 36 characters
MAX_SEARCH = 200  # characters of a table's search box that are used


def parse_id(raw: object) -> UUID | None:
    """A row's public id (a UUID, API.md "Identifiers") sent as text: None when empty;
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


class SearchField(forms.CharField):
    """A table's search box: stripped, at most MAX_SEARCH characters used."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value))[:MAX_SEARCH]


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
