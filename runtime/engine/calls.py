"""The requests a step makes: URL, authentication, the guarded call, custom errors."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from connectors.definition.expressions import (
    evaluate,
    interpolate,
    jexl,
    jsonpath,
)
from core.outbound import DestinationRefused, OutboundResponse, ResponseTooLarge

from .run import ActionFailure, ProviderRefusedCredentials, Run


def _base_url(run: Run) -> str:
    base = str(run.definition.get("baseUrl") or "")
    return str(interpolate(base, run.context, encode=lambda v: quote(v, safe=""))).rstrip("/")


def _url(run: Run, path: str) -> str:
    filled = str(interpolate(path, run.context, encode=lambda v: quote(v, safe="")))
    if any(segment in (".", "..") for segment in filled.split("?")[0].split("/")):
        raise ActionFailure(400, "invalid_inputs", "A path value may not be . or ..")
    if filled.startswith(("http://", "https://")):
        return filled
    return _base_url(run) + "/" + filled.lstrip("/")


def _condition_holds(condition: Any, context: dict[str, Any]) -> bool:
    if condition is None:
        return True
    value = jexl(condition, context) if isinstance(condition, str) else condition
    return bool(value)


def _apply_auth(
    run: Run,
    override: dict[str, Any] | None,
    headers: dict[str, str],
    query: list[tuple[str, str]],
) -> tuple[str, str] | None:
    creds = run.credentials
    if override:
        kind = override.get("type")
        values = {k: str(evaluate(v, run.context) or "") for k, v in override.items()}
        creds.secrets.extend(v for k, v in values.items() if k in ("password", "token", "value"))
        if kind == "basic":
            return values.get("username", ""), values.get("password", "")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {values.get('token', '')}"
        elif kind == "header":
            headers[values.get("name", "")] = values.get("value", "")
        return None
    if creds.auth_type == "api_key":
        if creds.query_param:
            query.append((creds.query_param, creds.api_key))
        elif creds.header_name:
            headers[creds.header_name] = creds.api_key
        else:
            headers["Authorization"] = f"Bearer {creds.api_key}"
    elif creds.auth_type == "basic":
        return creds.username, creds.password
    elif creds.auth_type == "oauth2" and creds.access_token:
        headers["Authorization"] = f"Bearer {creds.access_token}"
    return None


def _decoded(response: OutboundResponse) -> Any:
    if not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body.decode("utf-8", "replace")


class AnswerTooLarge(ActionFailure):
    """A provider's answer over the byte cap it was read under (a 502)."""


def _custom_error(
    run: Run, parameters: dict[str, Any], status: int, body: Any
) -> ActionFailure | None:
    for rule in parameters.get("customErrors") or []:
        if rule.get("receivedStatus") != status:
            continue
        context = {**run.public_context, "response": body, "status": status}
        if not _condition_holds(rule.get("condition"), context):
            continue
        message = str(interpolate(str(rule.get("message") or ""), context) or "")
        return ActionFailure(
            int(rule["targetStatus"]),
            "provider_error",
            run.credentials.redact(message or f"The provider answered HTTP {status}."),
            provider_status=status,
        )
    return None


def http_call(
    run: Run,
    parameters: dict[str, Any],
    *,
    extra_query: list[tuple[str, str]] | None = None,
    extra_body: dict[str, Any] | None = None,
    max_bytes: int | None = None,
) -> tuple[Any, int]:
    """One guarded request from a ``request``-like step: (decoded body, status)."""
    context = run.context
    headers: dict[str, str] = {"Accept": "application/json"}
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for arg in parameters.get("args") or []:
        if not _condition_holds(arg.get("condition"), run.public_context):
            continue
        value = evaluate(arg.get("value"), context)
        if value is None:
            continue
        if arg.get("in") == "query":
            query.append((str(arg["name"]), _text(value)))
        elif arg.get("in") == "headers":
            headers[str(arg["name"])] = _text(value)
        else:
            body[str(arg["name"])] = value
    query += extra_query or []
    body.update(extra_body or {})
    method = str(parameters.get("method") or "get")
    url = _url(run, str(parameters.get("url") or ""))
    auth = _apply_auth(run, parameters.get("authorization"), headers, query)
    limit = max_bytes if max_bytes is not None else settings.RUNTIME_MAX_RESPONSE_BYTES
    _check_sendable(headers, auth)
    run.budget.pause()  # the call and its decoding have their own bounds
    try:
        return _answer(run, parameters, _send(run, method, url, limit, headers, query, body, auth))
    finally:
        run.budget.resume()


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _check_sendable(headers: dict[str, str], auth: tuple[str, str] | None) -> None:
    """Headers HTTP can carry: a token name, a value without CR/LF and in Latin-1 (what a
    value filled from an input or a credential may break; publishing checks the literals).
    422 ``refused``, nothing sent, the value not echoed."""
    parts = [(name, name, value) for name, value in headers.items()]
    parts += [("Authorization", "Authorization", text) for text in auth or ()]
    for shown, name, value in parts:
        try:
            value.encode("latin-1")
            unsendable = "\r" in value or "\n" in value or not _HEADER_NAME.fullmatch(name)
        except UnicodeEncodeError:
            unsendable = True
        if unsendable:
            raise ActionFailure(
                422,
                "refused",
                f"The request was not sent: its {shown[:100]!r} header would hold a line break "
                "or a character outside Latin-1 (or its name is not an HTTP header name).",
            )


def _send(
    run: Run,
    method: str,
    url: str,
    limit: int,
    headers: dict[str, str],
    query: list[tuple[str, str]],
    body: dict[str, Any],
    auth: tuple[str, str] | None,
) -> OutboundResponse:
    try:
        return run.send(
            method,
            url,
            max_bytes=limit,
            headers=headers,
            params=query or None,
            json=body if body else None,
            auth=auth,
        )
    except DestinationRefused as exc:
        raise ActionFailure(502, "provider_error", exc.message) from exc
    except ResponseTooLarge as exc:
        raise AnswerTooLarge(502, "provider_error", str(exc)) from exc
    except requests.Timeout as exc:
        raise ActionFailure(
            504, "provider_timeout", "The provider did not answer in time."
        ) from exc
    except requests.RequestException as exc:
        raise ActionFailure(
            502, "provider_error", f"Could not reach the provider ({type(exc).__name__})."
        ) from exc


def _answer(run: Run, parameters: dict[str, Any], response: OutboundResponse) -> tuple[Any, int]:
    run.provider_status = response.status
    decoded = _decoded(response)
    if 200 <= response.status < 300:
        return decoded, len(response.body)
    run.budget.resume()
    custom = _custom_error(run, parameters, response.status, decoded)
    if custom is not None:
        raise custom
    if response.status in (401, 403):
        raise ProviderRefusedCredentials(
            409,
            "needs_reauth",
            f"The provider refused the credentials (HTTP {response.status}); the end user "
            "must reconnect.",
            provider_status=response.status,
        )
    if 300 <= response.status < 400:
        message = f"The provider answered a redirect (HTTP {response.status}); it was not followed."
    else:
        message = f"The provider answered HTTP {response.status}."
    raise ActionFailure(502, "provider_error", message, provider_status=response.status)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _extract(body: Any, key: Any) -> Any:
    if not key:
        return body
    path = str(key)
    return jsonpath(path if path.startswith("$") else f"$.{path}", body)


def _indexed(records: Any, index_field: Any) -> Any:
    if not index_field or not isinstance(records, list):
        return records
    return {
        str(_extract(record, index_field)): record for record in records if isinstance(record, dict)
    }
