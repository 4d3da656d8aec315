"""The upload page's form: what it keeps, cuts or reads as a flag."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from dashboard.connectors.forms import PublishForm, VersionPublishForm


def posted(query: str) -> QueryDict:
    return QueryDict(query)


def test_the_changelog_over_2000_characters_is_refused_not_cut() -> None:
    assert PublishForm(posted("description=" + "x" * 2000)).is_valid()
    form = PublishForm(posted("description=" + "x" * 2500))
    assert not form.is_valid()
    assert "at most 2,000 characters" in form.errors["description"][0]


def test_the_changelog_keeps_newlines_but_not_other_controls() -> None:
    assert PublishForm(posted("description=one%0D%0Atwo%09three")).is_valid()
    assert not PublishForm(posted("description=one%00two")).is_valid()


def test_flags_and_the_draft_action() -> None:
    form = PublishForm(posted("force=1&action=draft"))
    assert form.is_valid()
    assert form.cleaned_data["force"] is True
    assert form.cleaned_data["acknowledge_breaking"] is False
    assert form.draft
    publish = PublishForm(posted("action=publish"))
    assert publish.is_valid() and not publish.draft


def test_kept_files_pair_names_with_bodies_in_order() -> None:
    form = PublishForm(posted("kept_name=a.yaml&kept_body=A&kept_name=b.yaml&kept_body=B"))
    assert form.is_valid()
    assert form.kept() == [("a.yaml", "A"), ("b.yaml", "B")]
    assert form.cleaned_data["files"] == []


def test_every_chosen_file_is_kept_even_an_empty_one() -> None:
    files = MultiValueDict(
        {"files": [SimpleUploadedFile("c.yaml", b"info: {}"), SimpleUploadedFile("p.yaml", b"")]}
    )
    form = PublishForm(posted(""), files)
    assert form.is_valid()
    assert [f.name for f in form.cleaned_data["files"]] == ["c.yaml", "p.yaml"]


def test_publishing_a_draft_reads_the_acknowledgement() -> None:
    form = VersionPublishForm(posted("acknowledge_breaking=1"))
    assert form.is_valid() and form.cleaned_data["acknowledge_breaking"] is True
