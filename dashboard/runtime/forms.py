"""The Try it form: a connection the user may edit, and one field per action input."""

from __future__ import annotations

from typing import Any

from django import forms

from connections.models import Connection
from core.forms import TextField

MAX_INPUT = 10_000


class TryItForm(forms.Form):
    connection = forms.ChoiceField(label="Connection")

    def __init__(self, data: Any, *, action: dict[str, Any], connections: list[Connection]) -> None:
        super().__init__(data)
        self.action = action
        choice = self.fields["connection"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [(str(c.public_id), f"{c.name} ({c.profile.name})") for c in connections]
        self.input_names: list[str] = []
        for spec in action.get("inputs") or []:
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                continue
            name = spec["name"]
            label = f"{name} ({spec.get('type', 'string')}, in {spec.get('in', 'query')})"
            field: forms.Field
            if spec.get("type") == "boolean":
                field = forms.NullBooleanField(label=label, required=False)
            else:
                field = TextField(
                    label=label, required=bool(spec.get("required")), max_length=MAX_INPUT
                )
            field.help_text = str(spec.get("description") or "")
            self.fields[f"input_{name}"] = field
            self.input_names.append(name)

    def inputs(self) -> dict[str, Any]:
        values = {name: self.cleaned_data.get(f"input_{name}") for name in self.input_names}
        return {k: v for k, v in values.items() if v not in (None, "")}

    def add_input_errors(self, fields: list[dict[str, str]]) -> None:
        for item in fields:
            name = item["field"].removeprefix("inputs.")
            key = f"input_{name}" if f"input_{name}" in self.fields else None
            self.add_error(key, item["message"])


class RequestFilterForm(forms.Form):
    action = TextField(required=False, max_length=100)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), ("ok", "OK"), ("error", "Error")]
    )
    after = TextField(required=False, max_length=200)
    before = TextField(required=False, max_length=200)

    def values(self) -> tuple[str, str]:
        if not self.is_valid():
            return "", ""
        return self.cleaned_data["action"] or "", self.cleaned_data["status"] or ""
