"""What the staged-rollout gate counts of a request (docs/api.md "Staged rollouts"): the
provider's and the version's failures are errors, a caller's mistakes are not counted."""

from __future__ import annotations

import pytest

from profiles.serving import gate_outcome


@pytest.mark.parametrize(
    ("http_status", "code", "counted_as"),
    [
        (200, "", False),
        (502, "provider_error", True),
        (504, "provider_timeout", True),
        (409, "needs_reauth", True),
        (422, "expression_budget_exceeded", True),  # the version's mapping can't finish
        (500, "internal", True),
        (404, "action_not_found", False),  # a request, not an error
        (400, "invalid_inputs", None),  # the caller's: not counted at all
        (409, "connection_disabled", None),
    ],
)
def test_gate_outcome(http_status: int, code: str, counted_as: bool | None) -> None:
    assert gate_outcome(http_status, code) is counted_as
