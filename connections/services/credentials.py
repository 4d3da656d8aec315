"""A connection's stored credentials, decrypted, and which of them authenticate: one place
for the health check and the runtime (``runtime.services.credentials_of``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from projects.crypto import decrypt_json

from ..models import Connection


def _pick(values: dict[str, str], preferred: Iterable[str], fallback: list[str]) -> str:
    for key in preferred:
        if values.get(key):
            return values[key]
    return fallback[0] if fallback else ""


@dataclass(frozen=True)
class StoredCredentials:
    plain: dict[str, str]  # the connection's plain config values
    secrets: dict[str, str]  # the connection's secret config values
    setup_secrets: dict[str, str]  # the profile's secret setup values
    values: dict[str, str]  # everything by key: the connection's over the profile's

    @property
    def secret_values(self) -> list[str]:
        """Every secret, to redact from what the provider answers."""
        return [*self.secrets.values(), *self.setup_secrets.values()]

    def api_key(self) -> str:
        return _pick(
            self.secrets, ("api_key", "apiKey", "key", "token"), list(self.secrets.values())
        )

    def basic(self) -> tuple[str, str]:
        username = _pick(self.plain, ("username", "user", "email"), list(self.plain.values()))
        password = _pick(self.secrets, ("password", "secret"), list(self.secrets.values()))
        return username, password


def stored_credentials(connection: Connection) -> StoredCredentials:
    secrets = {k: str(v) for k, v in decrypt_json(connection.config_secrets).items()}
    setup_secrets = {k: str(v) for k, v in decrypt_json(connection.profile.setup_secrets).items()}
    plain = {k: str(v) for k, v in connection.config_values.items()}
    values = {**{k: str(v) for k, v in connection.profile.setup_values.items()}, **setup_secrets}
    values.update(plain)
    values.update(secrets)
    return StoredCredentials(plain, secrets, setup_secrets, values)
