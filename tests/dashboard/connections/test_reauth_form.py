"""The re-authentication link form's language: its empty option and its help agree (issue 30:
the option said "the end user's browser language", the help "the language the account was
connected in"; the service does the second, then the first)."""

from __future__ import annotations

from dashboard.connections.forms import ReauthForm


def test_the_empty_language_option_says_what_the_link_will_use() -> None:
    field = ReauthForm()["locale"]
    html = str(field)
    assert '<option value="" selected>The language it was connected in</option>' in html
    assert "browser language" not in html.split("</option>")[0]
    assert field.help_text == "When that is unknown: the end user's browser language."
