"""The events tests' receiver fixtures, for the webhook settings pages."""

from tests.events.conftest import endpoint, receiver, run_tasks

__all__ = ["endpoint", "receiver", "run_tasks"]
