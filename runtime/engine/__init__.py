"""Running one action of a definition: inputs, steps, result (docs/connector-definition.md).
A package by topic: ``run`` (failures, redaction, credentials, the run), ``inputs``, ``calls``
(the requests a step makes) and ``steps`` (the step functions, ``run_action``); callers
import from here.

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

from .calls import (
    http_call,
)
from .inputs import (
    MAX_INPUT_TEXT,
    validated_inputs,
)
from .run import (
    MASK,
    MIN_SECRET,
    ActionFailure,
    Credentials,
    Outcome,
    ProviderRefusedCredentials,
    Redactor,
    Run,
    Sender,
    budget_from_settings,
)
from .steps import (
    STEP_FUNCTIONS,
    monotonic_ms,
    run_action,
    step_group_data,
    step_map_fields,
    step_paginated_request,
    step_request,
    step_typecast,
)

__all__ = [
    "MASK",
    "MAX_INPUT_TEXT",
    "MIN_SECRET",
    "STEP_FUNCTIONS",
    "ActionFailure",
    "Credentials",
    "Outcome",
    "ProviderRefusedCredentials",
    "Redactor",
    "Run",
    "Sender",
    "budget_from_settings",
    "http_call",
    "monotonic_ms",
    "run_action",
    "step_group_data",
    "step_map_fields",
    "step_paginated_request",
    "step_request",
    "step_typecast",
    "validated_inputs",
]
