"""Running one action of a definition: inputs, steps, result (docs/connector-definition.md).

No database here: ``Credentials`` come prepared by ``runtime.services``, and a ``Sender``
makes the guarded HTTP call (core.outbound). Provider failures raise ``ActionFailure`` with
the API's status and code; no message ever holds a credential (they are redacted).

A definition is untrusted code:

- secrets are in the context only where a request is made (``Run.context``: the URL, args
  values and authorization of a request step, and baseUrl); everything else (conditions,
  ``customErrors``, ``map_fields``, ``typecast``, ``result``) is evaluated over
  ``Run.public_context``, whose ``credentials`` holds the non-secret fields only. Publishing
  refuses a definition that names a secret there; this holds for the versions stored before;
- every evaluation of one action is charged to one ``Budget`` (steps and CPU time outside
  the provider calls, ``RUNTIME_EXPRESSION_MAX_STEPS`` / ``RUNTIME_EXPRESSION_CPU_MS``):
  over it the action answers 422 ``expression_budget_exceeded``;
- ``redacted`` masks every secret value left in an answer (a provider may echo one):
  ``runtime.services.action_run`` applies it to whatever leaves the runtime.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from django.conf import settings

from connectors.definition.expressions import (
    Budget,
    ExpressionBudgetExceeded,
    budget_active,
    charge,
    evaluate,
    interpolate,
    jexl,
    jsonpath,
)
from core.outbound import DestinationRefused, OutboundResponse, ResponseTooLarge, guarded_request


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


# --- Inputs ----------------------------------------------------------------------------------

MAX_INPUT_TEXT = 10_000


def _input_value(kind: str, value: Any) -> Any:
    """The value as its declared type, or raise ValueError."""
    if kind in ("string", "datetime_string"):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be a string")
        text = str(value)
        if len(text) > MAX_INPUT_TEXT:
            raise ValueError(f"must be at most {MAX_INPUT_TEXT:,} characters long")
        if any(ord(c) < 32 and c not in "\t\n" for c in text):
            raise ValueError("must not hold control characters")
        if kind == "datetime_string":
            try:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError("must be an ISO 8601 date or date-time") from exc
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError as exc:
            raise ValueError("must be a number") from exc
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ValueError("must be true or false")
    if kind == "object":
        if not isinstance(value, dict):
            raise ValueError("must be an object")
        return value
    return value


def validated_inputs(action: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The action's inputs, typed; 400 ``invalid_inputs`` naming each ``inputs.<name>``."""
    declared = {i["name"]: i for i in action.get("inputs") or [] if isinstance(i, dict)}
    problems: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in given:
        if name not in declared:
            problems.append(
                {"field": f"inputs.{name}", "message": "is not an input of this action"}
            )
    for name, spec in declared.items():
        value = given.get(name)
        if value is None or value == "":
            if spec.get("required"):
                problems.append({"field": f"inputs.{name}", "message": "is required"})
            continue
        try:
            values[name] = _input_value(str(spec.get("type")), value)
        except ValueError as exc:
            problems.append({"field": f"inputs.{name}", "message": str(exc)})
    if problems:
        raise ActionFailure(400, "invalid_inputs", "The inputs are not valid.", fields=problems)
    return values


# --- Requests --------------------------------------------------------------------------------


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


# --- Step functions --------------------------------------------------------------------------


def step_request(run: Run, parameters: dict[str, Any]) -> dict[str, Any]:
    body, _size = http_call(run, parameters)
    response = parameters.get("response") or {}
    data = _extract(body, response.get("dataKey"))
    if response.get("collection") and data is not None and not isinstance(data, list):
        data = [data]
    output: dict[str, Any] = {"data": _indexed(data, response.get("indexField")), "raw": body}
    if response.get("nextKey"):
        output["next"] = _extract(body, response["nextKey"])
    return output


def step_paginated_request(run: Run, parameters: dict[str, Any]) -> dict[str, Any]:
    """Pages until the cursor is empty, at most ``maxPages`` (and RUNTIME_MAX_PAGES) pages and
    RUNTIME_MAX_TOTAL_BYTES in all; ``next`` is the cursor left when a cap stopped it."""
    response = parameters.get("response") or {}
    iterator = parameters.get("iterator") or {}
    max_pages = min(
        int(parameters.get("maxPages") or settings.RUNTIME_MAX_PAGES), settings.RUNTIME_MAX_PAGES
    )
    budget = settings.RUNTIME_MAX_TOTAL_BYTES
    records: list[Any] = []
    cursor: Any = run.inputs.get(str(iterator.get("key"))) or None
    pages = 0
    while True:
        key = str(iterator.get("key"))
        extra_query = [(key, _text(cursor))] if cursor and iterator.get("in") == "query" else []
        extra_body = {key: cursor} if cursor and iterator.get("in") == "body" else {}
        limit = min(settings.RUNTIME_MAX_RESPONSE_BYTES, budget)
        try:
            body, size = http_call(
                run, parameters, extra_query=extra_query, extra_body=extra_body, max_bytes=limit
            )
        except AnswerTooLarge:
            if pages and limit < settings.RUNTIME_MAX_RESPONSE_BYTES:
                break  # this page would cross the total: ``next`` is its cursor
            raise
        budget -= size
        pages += 1
        page = _extract(body, response.get("dataKey"))
        if isinstance(page, list):
            records.extend(page)
        elif page is not None:
            records.append(page)
        cursor = _extract(body, response.get("nextKey"))
        if cursor in (None, "", [], False) or pages >= max_pages or budget <= 0:
            break
    return {
        "data": _indexed(records, response.get("indexField")),
        "next": cursor or None,
        "pages": pages,
    }


def _typed(kind: str | None, value: Any) -> Any:
    if value is None or kind in (None, "object", "enum"):
        return value
    try:
        if kind == "string":
            return _text(value)
        if kind == "number":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int | float):
                return value
            number = float(str(value))
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            if isinstance(value, str):
                return value.strip().lower() in ("true", "1", "yes", "y")
            return bool(value)
        if kind == "datetime_string":
            if isinstance(value, int | float):
                return datetime.fromtimestamp(value, tz=UTC).isoformat()
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).isoformat()
    except (ValueError, OverflowError, OSError):
        return None
    return value


def _enum(mapper: dict[str, Any], value: Any, context: dict[str, Any]) -> dict[str, Any]:
    for matcher in mapper.get("matcher") or []:
        expected = matcher.get("matchExpression")
        if isinstance(expected, str) and expected.startswith("{{"):
            hit = bool(jexl(expected, {**context, "value": value}))
        elif isinstance(expected, list):
            hit = value in expected
        else:
            hit = value == expected
        if hit:
            return {"value": matcher.get("value"), "source_value": value}
    return {"value": mapper.get("default"), "source_value": value}


def _field_value(spec: dict[str, Any], record: Any, run: Run, context: dict[str, Any]) -> Any:
    expression = spec.get("expression")
    if expression is None:
        raw = record.get(spec["targetFieldKey"]) if isinstance(record, dict) else None
    elif (isinstance(expression, str) and expression.startswith(("$.", "$["))) or expression == "$":
        raw = jsonpath(str(expression), record)
    else:
        raw = evaluate(expression, context)
    kind = spec.get("type")

    def one(item: Any) -> Any:
        if kind == "enum" and isinstance(spec.get("enumMapper"), dict):
            return _enum(spec["enumMapper"], item, context)
        if kind == "object" and spec.get("properties"):
            return _mapped(spec["properties"], item, run)
        return _typed(kind, item)

    if spec.get("array"):
        items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        return [one(item) for item in items]
    return one(raw)


def _mapped(fields: list[dict[str, Any]], record: Any, run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    charge()  # one step per record, so that a long mapping reads the clock too
    context = {**run.public_context, "$": record}
    for spec in fields:
        if spec.get("hidden"):
            continue
        value = _field_value(spec, record, run, context)
        (custom if spec.get("custom") else out)[spec["targetFieldKey"]] = value
    if custom:
        out["custom_fields"] = custom
    return out


def step_map_fields(run: Run, parameters: dict[str, Any]) -> dict[str, Any]:
    source = evaluate(parameters.get("dataSource"), run.public_context)
    fields = parameters.get("fields") or []
    if isinstance(source, list):
        return {"data": [_mapped(fields, record, run) for record in source]}
    if source is None:
        return {"data": None}
    return {"data": _mapped(fields, source, run)}


def step_typecast(run: Run, parameters: dict[str, Any]) -> dict[str, Any]:
    source = evaluate(parameters.get("dataSource"), run.public_context)
    kinds = {f["targetFieldKey"]: f.get("type") for f in parameters.get("fields") or []}

    def cast(record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        return {k: (_typed(kinds[k], v) if k in kinds else v) for k, v in record.items()}

    data = [cast(r) for r in source] if isinstance(source, list) else cast(source)
    return {"data": data}


def step_group_data(run: Run, parameters: dict[str, Any]) -> dict[str, Any]:
    """Lists are concatenated in the order named; mappings merged (later keys win);
    ``isSingleRecord`` merges every record into one mapping."""
    parts = [
        ((run.steps.get(step_id) or {}).get("output") or {}).get("data")
        for step_id in parameters["stepsDataToGroup"]
    ]
    if parameters.get("isSingleRecord"):
        merged: dict[str, Any] = {}
        for part in parts:
            for record in part if isinstance(part, list) else [part]:
                if isinstance(record, dict):
                    merged.update(record)
        return {"data": merged}
    present = [part for part in parts if part is not None]
    if present and all(isinstance(part, dict) for part in present):
        merged = {}
        for part in parts:
            merged.update(part or {})
        return {"data": merged}
    grouped: list[Any] = []
    for part in parts:
        if isinstance(part, list):
            grouped.extend(part)
        elif part is not None:
            grouped.append(part)
    return {"data": grouped}


STEP_FUNCTIONS: dict[str, Callable[[Run, dict[str, Any]], dict[str, Any]]] = {
    "request": step_request,
    "paginated_request": step_paginated_request,
    "map_fields": step_map_fields,
    "typecast": step_typecast,
    "group_data": step_group_data,
}


def _implicit_steps(action: dict[str, Any]) -> list[dict[str, Any]]:
    """An action with only ``entrypointUrl``: one request placing each input where its
    ``in`` says (path inputs through ``${inputs.x}`` in the URL)."""
    args = [
        {"name": i["name"], "value": f"$.inputs.{i['name']}", "in": i["in"]}
        for i in action.get("inputs") or []
        if isinstance(i, dict) and i.get("in") in ("query", "body", "headers")
    ]
    return [
        {
            "stepId": "request",
            "stepFunction": {
                "functionName": "request",
                "parameters": {
                    "url": action.get("entrypointUrl") or "/",
                    "method": action.get("entrypointHttpMethod") or "get",
                    "args": args,
                },
            },
        }
    ]


def run_action(run: Run) -> Outcome:
    """The action's steps, then its result, within ``run.budget`` (422
    ``expression_budget_exceeded`` beyond it)."""
    try:
        with budget_active(run.budget):
            return _run_steps(run)
    except ExpressionBudgetExceeded as exc:
        raise ActionFailure(
            422,
            "expression_budget_exceeded",
            f"The definition's expressions went over their budget ({exc.reason}).",
            provider_status=run.provider_status,
        ) from None


def _run_steps(run: Run) -> Outcome:
    steps = run.action.get("steps") or _implicit_steps(run.action)
    last: dict[str, Any] = {}
    for step in steps:
        if not _condition_holds(step.get("condition"), run.public_context):
            continue
        function = step["stepFunction"]
        output = STEP_FUNCTIONS[function["functionName"]](run, function.get("parameters") or {})
        run.steps[step["stepId"]] = {"output": output}
        last = output
    result = run.action.get("result") or {}
    context = run.public_context
    data = evaluate(result["data"], context) if "data" in result else last.get("data")
    next_cursor = evaluate(result["next"], context) if "next" in result else last.get("next")
    run.budget.check_time()
    return Outcome(data=data, next=next_cursor, provider_status=run.provider_status)


def monotonic_ms(start: float) -> int:
    return max(0, round((time.perf_counter() - start) * 1000))
