"""What a health check's outcome does to a connection's status and health: a stronger fact wins.

From the strongest:

1. ``disabled``: an admin switched the connection off. Only an admin switches it on again; a
   disabled connection is never checked, refreshed or called.
2. ``needs_reauth``: the provider refused the credentials (a 401/403, an ``invalid_grant`` on
   refresh) or an admin said so. Only new credentials (the end user re-authenticates) or an
   admin leave it; no check does, healthy or failing.
3. ``error``: the provider could not be reached, timed out or answered 5xx (or any other
   unexpected status). The next successful check leaves it.
4. ``active``.

A check whose outcome loses still goes into the connection's health history (HealthCheck).
A check that could not run (``unknown``: no healthCheck in the definition, a credential
missing) teaches nothing and changes neither. docs/concepts.md ("Status and health") has the
table; tests/connections/test_precedence.py tests it.
"""

from __future__ import annotations

from .models import Health, Status

STATUS_OF_OUTCOME = {
    Health.HEALTHY: Status.ACTIVE,
    Health.NEEDS_REAUTH: Status.NEEDS_REAUTH,
    Health.UNHEALTHY: Status.ERROR,
}


def after_check(status: str, health: str, outcome: str) -> tuple[str, str]:
    """The (status, health) a connection in ``status``/``health`` has after a check whose
    outcome is ``outcome`` (a Health value)."""
    if status == Status.DISABLED:
        return status, health
    if status == Status.NEEDS_REAUTH:
        return Status.NEEDS_REAUTH, Health.NEEDS_REAUTH
    if outcome == Health.UNKNOWN:
        return status, health
    return STATUS_OF_OUTCOME[Health(outcome)], outcome
