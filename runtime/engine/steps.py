"""The step functions (request, paginated request, map fields, typecast, group data) and
running an action's steps to its result."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from connectors.definition.expressions import (
    ExpressionBudgetExceeded,
    budget_active,
    charge,
    evaluate,
    jexl,
    jsonpath,
)

from .calls import AnswerTooLarge, _condition_holds, _extract, _indexed, _text, http_call
from .run import ActionFailure, Outcome, Run


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
