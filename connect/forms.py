"""The hosted connect pages' POST bodies and the OAuth callback's query string."""

from __future__ import annotations

from django import forms

from core.validation import text_problem
from projects.services import ServiceError


class ConnectConfigForm(forms.Form):
    """The end user's credentials, as ``config_<key>`` fields of the definition's
    configFields (the service validates them against the version)."""

    PREFIX = "config_"
    MAX_VALUE_CHARS = 4096  # an API key, a subdomain, a password: far below this

    def values(self) -> dict[str, str]:
        prefix = self.PREFIX
        return {k[len(prefix) :]: str(v) for k, v in self.data.items() if k.startswith(prefix)}

    def check(self) -> None:
        """The input boundary for every value sent: ServiceError (400) naming the first field
        with a control or bidi character, or longer than MAX_VALUE_CHARS."""
        for key, value in self.values().items():
            problem = text_problem(value, max_length=self.MAX_VALUE_CHARS)
            if problem is not None:
                raise ServiceError(f"{key} {problem}.", field=key)


class OAuthCallbackForm(forms.Form):
    """The provider's redirect back: ``code`` and ``state``, or ``error``; ``iss`` when the
    provider names itself (the service checks them all)."""

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.data.items()}
