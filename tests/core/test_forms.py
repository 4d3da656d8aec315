"""core.forms.WIDGETS_BY_JINJA2: its select template (core/widgets/, the option's include
inlined) renders Django's own Jinja2 markup, for every state of the hot pages' selects."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.forms.renderers import Jinja2

from core.forms import WIDGETS_BY_JINJA2
from dashboard.connections.forms import LinkForm, ReauthForm

DJANGOS = Jinja2()


class _Choices(forms.Form):
    default_renderer = WIDGETS_BY_JINJA2

    grouped = forms.ChoiceField(
        choices=[("", "None"), ("Fruit", [("a", "Apple <b>"), ("p", "Pear")]), ("x", "X & Y")],
        required=True,
        help_text="Pick one",
    )
    many = forms.MultipleChoiceField(choices=[("1", "One"), ("2", "Two")], required=False)
    maybe = forms.NullBooleanField(required=False)
    off = forms.ChoiceField(choices=[("a", "A")], disabled=True, required=False)


def _selects(form: forms.Form) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for bound in form:
        if not isinstance(bound.field.widget, forms.Select):
            continue
        ours = bound.as_widget()
        bound.form.renderer = DJANGOS
        django = bound.as_widget()
        bound.form.renderer = WIDGETS_BY_JINJA2
        shown.append((str(ours), str(django)))
    return shown


@pytest.mark.parametrize(
    ("form_class", "data"),
    [
        (ReauthForm, None),
        (ReauthForm, {"expires_in": "86400", "locale": "de"}),
        (ReauthForm, {"expires_in": "7", "locale": "xx"}),  # errors: aria-invalid
        (LinkForm, None),
        (LinkForm, {"origin_owner_id": "u1", "expires_in": "432000", "locale": ""}),
        (_Choices, None),
        (_Choices, {"grouped": "p", "many": ["1", "2"], "maybe": "true"}),
        (_Choices, {"grouped": "nope", "many": ["3"]}),
    ],
)
def test_the_inlined_select_renders_djangos_markup(form_class: Any, data: Any) -> None:
    form = form_class(data) if data is not None else form_class()
    if data is not None:
        form.is_valid()
    shown = _selects(form)
    assert shown
    for ours, django in shown:
        assert ours == django
    assert form.renderer is WIDGETS_BY_JINJA2
    if form_class is _Choices and data is None:
        html = "".join(ours for ours, _ in shown)
        assert "<optgroup" in html and "Apple &lt;b&gt;" in html and " multiple" in html
