"""Connections created or re-keyed without the hosted page (docs/api.md ``POST /connections``,
``PUT /connections/{id}``): credentials imported from elsewhere, checked strictly against the
configFields of the version the profile resolves to now, optionally verified with the
definition's health check *before* anything is written. Nothing is stored on a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from connectors.models import ConnectorVersion
from core.validation import text_problem
from profiles.models import ConnectorProfile
from projects.crypto import decrypt_json, encrypt_json
from projects.services import Actor, RefusedError, ServiceError

from .. import counters
from ..models import Connection, Health, Status
from .announce import announce, announce_status
from .connections import (
    MAX_CONFIG_VALUE,
    _audit,
    _locked,
    connection_create,
    resolved_version,
    split_config,
    tokens_blob,
)
from .health import health_probe, health_probe_run

MAX_TOKEN = 8192
MAX_CONFIG_KEYS = 100


class CredentialsRejected(RefusedError):
    code = "credentials_rejected"


@dataclass(frozen=True)
class ImportedTokens:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        tokens: dict[str, Any] = {"access_token": self.access_token, "token_type": "Bearer"}
        if self.refresh_token:
            tokens["refresh_token"] = self.refresh_token
        if self.expires_at is not None:
            tokens["expires_at"] = float(self.expires_at)
        if self.scopes:
            tokens["scope"] = " ".join(self.scopes)
        return tokens


def expiry_seconds(value: datetime | float | int | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def strict_config(
    version: ConnectorVersion, config: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Unknown keys and values of the wrong type are refused (``config.<key>``), then the
    shared rules of ``split_config`` (required, lengths, options)."""
    fields = {
        f["key"]: f
        for f in version.authentication.get("configFields") or []
        if isinstance(f, dict) and isinstance(f.get("key"), str)
    }
    if len(config) > MAX_CONFIG_KEYS:
        raise ServiceError(f"config may have at most {MAX_CONFIG_KEYS} keys.", field="config")
    for key, value in config.items():
        if key not in fields:
            raise ServiceError(
                f"{key} is not a config field of this connector.", field=f"config.{key}"
            )
        kind = fields[key].get("type")
        if kind == "boolean" and not isinstance(value, bool):
            raise ServiceError(f"{key} must be true or false.", field=f"config.{key}")
        if kind == "number" and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            raise ServiceError(f"{key} must be a number.", field=f"config.{key}")
        if kind not in ("boolean", "number") and not isinstance(value, str):
            raise ServiceError(f"{key} must be a string.", field=f"config.{key}")
        problem = text_problem(str(value), max_length=MAX_CONFIG_VALUE)
        if problem is not None:
            raise ServiceError(f"{key} {problem}.", field=f"config.{key}")
    text = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in config.items()}
    try:
        return split_config(version, text)
    except ServiceError as exc:
        raise ServiceError(exc.message, field=f"config.{exc.field}" if exc.field else None) from exc


def _verify(
    profile: ConnectorProfile,
    version: ConnectorVersion,
    plain: dict[str, str],
    secret: dict[str, str],
    tokens: dict[str, Any] | None,
) -> None:
    """The definition's health check with these credentials, on an unsaved row."""
    probe_row = Connection(
        project=profile.project,
        profile=profile,
        connector_id=profile.connector_id,
        config_values=plain,
        config_secrets=encrypt_json(secret) if secret else "",
        resolved_version=version,
    )
    access_token = str((tokens or {}).get("access_token") or "") or None
    result = health_probe_run(health_probe(probe_row, access_token))
    if result.status != Health.HEALTHY:
        raise CredentialsRejected(f"The credentials were not accepted: {result.detail}")


def connection_import(
    *,
    actor: Actor,
    profile: ConnectorProfile,
    origin_owner_id: str,
    origin_owner_name: str = "",
    origin_username: str = "",
    email: str = "",
    name: str = "",
    config: dict[str, Any] | None = None,
    oauth_tokens: ImportedTokens | None = None,
    verify: bool = False,
) -> Connection:
    version = resolved_version(profile)
    plain, secret = strict_config(version, config or {})
    tokens = oauth_tokens.as_dict() if oauth_tokens else None
    if verify:
        _verify(profile, version, plain, secret, tokens)
    return connection_create(
        actor=actor,
        profile=profile,
        origin_owner_id=origin_owner_id,
        origin_owner_name=origin_owner_name,
        origin_username=origin_username,
        email=email,
        name=name,
        config={**plain, **secret},
        oauth_tokens=tokens,
    )


@transaction.atomic
def connection_replace_credentials(
    *,
    actor: Actor,
    connection: Connection,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    oauth_tokens: ImportedTokens | None = None,
    verify: bool = False,
) -> Connection:
    """Replace the name, the config values and/or the tokens (the profile stays)."""
    version = resolved_version(connection.profile)
    row = _locked(connection)
    if config is not None:
        plain, secret = strict_config(version, config)
    else:
        plain = dict(row.config_values)
        secret = {k: str(v) for k, v in decrypt_json(row.config_secrets).items()}
    tokens = oauth_tokens.as_dict() if oauth_tokens else None
    if verify:
        _verify(row.profile, version, plain, secret, tokens)
    counted = counters.key_of(row)
    previous_status = row.status
    fields = ["updated_at"]
    if name is not None:
        if not name.strip():
            raise ServiceError("Give the connection a name.", field="name")
        row.name = name.strip()[:200]
        fields.append("name")
    if config is not None:
        row.config_values = plain
        row.config_secrets = encrypt_json(secret) if secret else ""
        fields += ["config_values", "config_secrets"]
    if tokens is not None:
        row.oauth_tokens, row.token_expires_at = tokens_blob(tokens)
        fields += ["oauth_tokens", "token_expires_at"]
    if (config is not None or tokens is not None) and row.status in (
        Status.NEEDS_REAUTH,
        Status.ERROR,
    ):
        row.status = Status.ACTIVE
        row.health = Health.UNKNOWN
        fields += ["status", "health"]
    row.resolved_version = version
    fields.append("resolved_version")
    row.save(update_fields=fields)
    counters.changed(counted, row)
    announce(row, "updated", reason="credentials_replaced")
    announce_status(row, previous_status)
    _audit(
        actor,
        row,
        "connection.credentials_replaced",
        after={
            "fields": sorted([*plain, *secret]) if config is not None else [],
            "tokens": tokens is not None,
            "verified": verify,
        },
    )
    return row
