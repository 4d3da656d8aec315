"""The small includes have one implementation, the macros of templates/jinja2/includes/
macros.html; templates/includes/ calls them from Django pages ({% jinja_macro %}). Rendered
both ways they give the same markup (the wrappers pass every argument through), so a page
whose content Jinja2 renders looks and behaves as the others. Whitespace between tags aside."""

from __future__ import annotations

import re
from typing import Any

import jinja2
import pytest
from django.http import QueryDict
from django.template import engines
from django.template.loader import render_to_string


def _same(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def _macro(name: str, *args: Any, **kwargs: Any) -> str:
    env = engines["jinja2"].env  # type: ignore[attr-defined]
    module = env.get_template("includes/macros.html").module
    return str(getattr(module, name)(*args, **kwargs))


class _Message:
    def __init__(self, text: str, tags: str) -> None:
        self.text, self.tags = text, tags

    def __str__(self) -> str:
        return self.text


def test_messages() -> None:
    shown = [_Message("Saved <b>", "success"), _Message("Refused", "error"), _Message("x", "")]
    django = render_to_string("includes/messages.html", {"messages": shown})
    assert _same(_macro("messages", shown)) == _same(django)
    assert "Saved &lt;b&gt;" in django and "alert-danger" in django and "alert-info" in django


@pytest.mark.parametrize("query", ["", "sort=name&dir=asc&per_page=50", "per_page=25"])
def test_sort_bar(query: str) -> None:
    context = {
        "sorts": [("created_at", "Created"), ("name", "Name")],
        "params": QueryDict(query),
        "per_page_choices": [25, 50, 100],
        "default_per_page": 25,
        "id_prefix": "filter",
        "reset_url": "/p/x/connections/",
    }
    django = render_to_string("includes/sort_bar.html", context)
    jinja = _macro(
        "sort_bar",
        "filter",
        "/p/x/connections/",
        context["sorts"],
        context["params"],
        context["per_page_choices"],
        25,
    )
    assert _same(jinja) == _same(django)
    assert django.count(" selected") == (3 if "sort=" in query else 2)


@pytest.mark.parametrize("aria", ["", "ascending"])
def test_sort_header(aria: str) -> None:
    link = {
        "href": "/p/x/connections/?sort=name&dir=asc",
        "aria": aria,
        "arrow": "▲" if aria else "",
    }
    context = {"link": link, "label": "Account", "testid": "sort-name", "target": "#t"}
    django = (
        engines["django"].from_string('{% include "includes/sort_header.html" %}').render(context)
    )
    assert _same(_macro("sort_header", link, "Account", "sort-name", "#t")) == _same(django)
    assert "&amp;dir=asc" in django


@pytest.mark.parametrize(("prev", "nxt"), [("", ""), ("?before=a", ""), ("?before=a", "?after=b")])
def test_pager(prev: str, nxt: str) -> None:
    context = {"prev_href": prev, "next_href": nxt, "label": "Pages", "target": "#t", "anchor": ""}
    django = render_to_string("includes/pager.html", context)
    assert _same(_macro("pager", prev, nxt, "Pages", "#t")) == _same(django)


def test_empty_state() -> None:
    context = {"title": "None yet", "body": "Make one <now>."}
    django = render_to_string("includes/empty_state.html", context)
    assert _same(_macro("empty_state", "None yet", "Make one <now>.")) == _same(django)


def test_a_misspelt_name_raises() -> None:
    env = engines["jinja2"].env  # type: ignore[attr-defined]
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ no_such_name }}").render()


HOSTILE = [
    "<script>alert('x')</script> & \"quoted\"",
    "plain",
    "",
    "é ünïcode <b>",
    7,
    3.5,
    None,
    jinja2.utils.markupsafe.Markup("<i>kept</i>"),
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_output_is_escaped_exactly_as_jinja2_escapes_it(value: Any) -> None:
    """core.jinja writes ``{{ }}`` through its own escape (no Markup per plain str): the same
    text as Jinja2's own autoescaping, in output, macros, set blocks, filters and loops."""
    from django.utils.safestring import mark_safe

    source = (
        '{% macro m(x) %}<b title="{{ x }}">{{ x }}</b>{% endmacro %}'
        "{{ v }}|{{ m(v) }}|{{ v|string|upper }}|{% set y %}<p>{{ v }}</p>{% endset %}{{ y }}|"
        "{% for w in [v, v] %}{{ w }}{{ loop.index }}{% endfor %}|{{ safe }}|{{ v ~ '<' }}"
    )
    ours = engines["jinja2"].env.from_string(source)  # type: ignore[attr-defined]
    plain = jinja2.Environment(autoescape=True).from_string(source)
    context = {"v": value, "safe": mark_safe("<em>safe</em>")}
    assert ours.render(context) == plain.render(context)
    if isinstance(value, str) and "<script>" in value:
        assert "<script>" not in ours.render(context)
