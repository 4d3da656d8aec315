"""The profile pages' inputs. Names, pins and setup values are checked by the services, which
word the errors; these forms only read and normalise what was sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from core.forms import TextField

SETUP_PREFIX = "setup_"
NAME_MAX_CHARS = 100  # ConnectorProfile.name


class PinForm(forms.Form):
    """The pin editor (preview and save): ``pin`` as typed, shown again in the preview (blank
    means no pin: the default resolution); ``action=reset`` removes the pin; a move across a
    major or an authentication change is saved only with ``confirm``."""

    pin = TextField(required=False, strip=False)
    action = TextField(required=False)
    confirm = forms.BooleanField(required=False)  # the confirmation step of a guarded move

    def typed(self) -> str | None:
        """The pin as typed; None after a reset."""
        if self.cleaned_data.get("action") == "reset":
            return None
        return self.cleaned_data.get("pin")


class ProfileForm(forms.Form):
    """The profile's name, default flag and a ``setup_<key>`` value per setup field of the
    version it resolves to."""

    name = TextField(label="The name", required=False, max_length=NAME_MAX_CHARS)
    is_default = forms.BooleanField(required=False)

    def __init__(self, *args: Any, setup_keys: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key in setup_keys:
            self.fields[SETUP_PREFIX + key] = TextField(label=key, required=False)

    def setup_values(self) -> dict[str, str]:
        return {
            name.removeprefix(SETUP_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SETUP_PREFIX)
        }


class ProfileNewForm(forms.Form):
    connector_key = TextField(label="The connector key", required=False)
    name = TextField(label="The name", required=False, max_length=NAME_MAX_CHARS)
    pin = TextField(required=False, empty_value=None)  # blank: no pin
    is_default = forms.BooleanField(required=False)


class ProfileNewQueryForm(forms.Form):
    """``?connector=<key>``: the connector the new-profile page starts with."""

    connector = TextField(required=False)


class AgentToolSwitchForm(forms.Form):
    """The Agent tools tab's switch of one action (the service checks the id)."""

    action_id = TextField(max_length=100)
    enabled = forms.BooleanField(required=False)


class AgentLimitForm(forms.Form):
    """The calls-per-minute limit per connection; blank: no limit (the service checks the
    range and words the error)."""

    calls_per_minute = forms.IntegerField(required=False)
