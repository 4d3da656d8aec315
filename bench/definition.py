"""Benchmark: CPU time of ``parse_definition`` on worst-case pushes of the maximum size.

Prints process time per case (goal: under ~0.5 s for any push up to the 1 MiB file limit);
never fails on speed. No database needed.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import yaml  # noqa: E402

from connectors.definition import (  # noqa: E402
    MAX_ACTIONS,
    MAX_FILE_BYTES,
    MAX_INPUTS_PER_ACTION,
    DefinitionError,
    parse_definition,
)


def _base() -> dict[str, object]:
    return {
        "info": {"title": "Bench", "key": "bench", "version": "1.0.0"},
        "baseUrl": "https://api.example.com",
        "authentication": {"type": "api_key", "headerName": "X-API-Key"},
        "actions": [],
    }


def _action(n: int, inputs: int) -> dict[str, object]:
    return {
        "actionId": f"action_{n}",
        "categories": ["crm"],
        "actionType": "list",
        "label": f"Action {n}",
        "description": "Lists things.\nOn two lines.",
        "inputs": [
            {"name": f"in_{i}", "type": "string", "in": "query", "description": "An input."}
            for i in range(inputs)
        ],
    }


def _fill(document: dict[str, object], actions: int, inputs: int) -> bytes:
    document = copy.deepcopy(document)
    document["actions"] = [_action(n, inputs) for n in range(actions)]
    return yaml.safe_dump(document, sort_keys=False).encode()


def cases() -> dict[str, bytes]:
    # The probe's push: 12,500 small actions in 1 MiB.
    many_actions = _fill(_base(), 12_500, 0)[:MAX_FILE_BYTES]
    many_actions = many_actions[: many_actions.rfind(b"\n- actionId")] + b"\n"
    # The largest definition that is accepted: MAX_ACTIONS actions with inputs, under the
    # value limit of the YAML loader.
    accepted = _fill(_base(), MAX_ACTIONS, 5)
    # Every value a scalar: 1 MiB of "- 1" lines.
    scalars = yaml.safe_dump(_base(), sort_keys=False).encode() + b"x:\n"
    scalars += b"- 1\n" * ((MAX_FILE_BYTES - len(scalars)) // 4)
    # Few values, long strings: 1 MiB of description text.
    long_text = _base()
    long_text["info"]["description"] = "word " * ((MAX_FILE_BYTES - 64 * 1024) // 5)  # type: ignore[index]
    text = yaml.safe_dump(long_text, sort_keys=False, width=80).encode()
    # One action with the most inputs, repeated up to the action limit.
    wide = _fill(_base(), MAX_ACTIONS, MAX_INPUTS_PER_ACTION)[:MAX_FILE_BYTES]
    wide = wide[: wide.rfind(b"\n- actionId")] + b"\n"
    return {
        "12,500 actions (probe)": many_actions,
        f"{MAX_ACTIONS} actions x 5 inputs (accepted)": accepted,
        "1 MiB of scalars": scalars,
        "1 MiB of text": text,
        f"actions x {MAX_INPUTS_PER_ACTION} inputs, 1 MiB": wide,
    }


def measure(body: bytes) -> tuple[float, str]:
    start = time.process_time()
    try:
        parse_definition([("bench.yaml", body)])
        outcome = "accepted"
    except DefinitionError as exc:
        outcome = f"refused ({exc.status}): {exc.message[:70]}"
    return time.process_time() - start, outcome


def main() -> None:
    print(f"{'case':<34} {'KiB':>6} {'CPU s':>7}  outcome")
    for name, body in cases().items():
        best = min(measure(body)[0] for _ in range(3))
        print(f"{name:<34} {len(body) / 1024:6.0f} {best:7.3f}  {measure(body)[1]}")


if __name__ == "__main__":
    main()
