"""The query-string forms: what they keep, cut or ignore."""

from __future__ import annotations

from dashboard.projects.forms import AuditCursorForm, MemberFilterForm, TeamMemberRemoveForm


def test_search_is_stripped_and_refused_beyond_200_characters_never_cut() -> None:
    form = MemberFilterForm({"q": "  " + "x" * 200 + "  "})
    assert form.is_valid()
    assert form.cleaned_data["q"] == "x" * 200
    too_long = MemberFilterForm({"q": "x" * 201})
    assert not too_long.is_valid()
    assert "at most 200 characters" in too_long.errors["q"][0]


def test_a_page_that_is_not_a_number_counts_as_not_given() -> None:
    form = MemberFilterForm({"q": "ann", "page": "two"})
    assert not form.is_valid()
    assert form.cleaned_data == {"q": "ann"}
    assert MemberFilterForm({}).is_valid()


def test_each_audit_cursor_stands_alone() -> None:
    form = AuditCursorForm({"before": "-3", "after": "12"})
    assert not form.is_valid()
    assert form.cleaned_data == {"after": 12}
    superscript = AuditCursorForm({"before": "²"})  # a digit to str.isdigit, not to int()
    assert not superscript.is_valid()
    assert superscript.cleaned_data == {"after": None}


def test_removing_a_team_member_needs_a_user_id() -> None:
    assert not TeamMemberRemoveForm({"user": "x"}).is_valid()
    assert TeamMemberRemoveForm({"user": "7"}).is_valid()
