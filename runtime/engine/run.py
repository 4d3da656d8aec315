"""An action's run: its failures, the redaction of secrets, the credentials, the outcome."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, quote_plus

from django.conf import settings

from connectors.definition.expressions import (
    Budget,
)
from core.outbound import OutboundResponse, guarded_request


class ActionFailure(Exception):
    """The action could not give a result: ``status``/``code`` are the API's answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        provider_status: int | None = None,
        fields: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.provider_status = provider_status
        self.fields = fields or []


class ProviderRefusedCredentials(ActionFailure):
    """401/403 from the provider (the caller may refresh OAuth tokens once and retry)."""


MASK = "••••"
MIN_SECRET = 4  # a shorter secret value is not searched for (it would mask common words)


class Redactor:
    """Masks each of ``secrets`` (at least ``MIN_SECRET`` characters; also as it would appear
    percent-encoded in a URL or a query, or escaped in JSON text a provider echoes as a
    string) wherever it appears in a string of a JSON-like value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET:
                escaped = json.dumps(secret)[1:-1]
                forms.update({secret, quote(secret, safe=""), quote_plus(secret), escaped})
        self.secrets = sorted(forms, key=len, reverse=True)  # longest first: no partial leak
        self._pattern = (
            re.compile("|".join(re.escape(s) for s in self.secrets)) if self.secrets else None
        )
        self._escaped = [json.dumps(s, ensure_ascii=False)[1:-1] for s in self.secrets]

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        for _ in range(3):  # a mask next to a secret's remains cannot form one, but be sure
            masked = self._pattern.sub(MASK, text)
            if masked == text:
                return text
            text = masked
        return MASK if self._pattern.search(text) else text

    def value(self, value: Any) -> Any:
        """``value`` with every secret masked; unchanged (the same object) when none is in it.
        JSON escapes character by character, so a secret in any string of ``value`` is in its
        JSON text: one dump rules out the common case without walking it."""
        if self._pattern is None:
            return value
        try:
            dumped = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, TypeError, RecursionError):
            return self._walk(value)
        if not any(escaped in dumped for escaped in self._escaped):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            return MASK if self.text(str(value)) != str(value) else value
        if isinstance(value, dict):
            return {self._walk(key): self._walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(item) for item in value]
        return self.text(str(value))


@dataclass
class Credentials:
    values: dict[str, str]  # setup and config values, secrets decrypted (for ${credentials.x})
    auth_type: str
    api_key: str = ""
    header_name: str = ""
    query_param: str = ""
    username: str = ""
    password: str = ""
    access_token: str = ""
    secrets: list[str] = field(default_factory=list)
    secret_keys: frozenset[str] = frozenset()  # the keys of ``values`` that are secret

    @cached_property
    def public_values(self) -> dict[str, str]:
        """What conditions, mappings and results may read: the non-secret fields."""
        return {k: v for k, v in self.values.items() if k not in self.secret_keys}

    def redact(self, text: str) -> str:
        return Redactor(self.secrets).text(text)


def budget_from_settings() -> Budget:
    return Budget(
        max_steps=settings.RUNTIME_EXPRESSION_MAX_STEPS,
        max_seconds=settings.RUNTIME_EXPRESSION_CPU_MS / 1000,
    )


@dataclass
class Outcome:
    data: Any
    next: Any
    provider_status: int | None


Sender = Callable[..., OutboundResponse]


@dataclass
class Run:
    definition: dict[str, Any]
    action: dict[str, Any]
    inputs: dict[str, Any]
    credentials: Credentials
    send: Sender = guarded_request
    provider_status: int | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=budget_from_settings)

    @property
    def context(self) -> dict[str, Any]:
        """Where a request is made (its URL, args values, authorization; baseUrl)."""
        return {"inputs": self.inputs, "credentials": self.credentials.values, "steps": self.steps}

    @property
    def public_context(self) -> dict[str, Any]:
        """Everywhere else: the same without the secret fields."""
        return {**self.context, "credentials": self.credentials.public_values}
