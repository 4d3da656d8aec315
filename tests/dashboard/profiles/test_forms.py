"""The profile pages' forms: what they pass on to the services."""

from __future__ import annotations

from dashboard.profiles.forms import PinForm, ProfileForm, ProfileNewForm


def test_the_pin_is_kept_as_typed_and_reset_means_none() -> None:
    typed = PinForm({"pin": " 1.x.x ", "action": "save"})
    assert typed.is_valid() and typed.typed() == " 1.x.x "
    reset = PinForm({"pin": "1.x.x", "action": "reset"})
    assert reset.is_valid() and reset.typed() is None
    assert PinForm({}).is_valid()


def test_profile_form_reads_the_setup_fields_of_the_version_only() -> None:
    form = ProfileForm(
        {"name": " Prod ", "is_default": "1", "setup_region": "eu", "setup_other": "x"},
        setup_keys=["region", "client_secret"],
    )
    assert form.is_valid()
    assert form.cleaned_data["name"] == "Prod"
    assert form.cleaned_data["is_default"] is True
    assert form.setup_values() == {"region": "eu", "client_secret": ""}


def test_a_blank_pin_for_a_new_profile_means_no_pin() -> None:
    form = ProfileNewForm({"connector_key": "acme_crm", "name": "prod", "pin": "  "})
    assert form.is_valid()
    assert form.cleaned_data["pin"] is None
    assert form.cleaned_data["is_default"] is False
    pinned = ProfileNewForm({"pin": " 1.x.x "})
    assert pinned.is_valid() and pinned.cleaned_data["pin"] == "1.x.x"
