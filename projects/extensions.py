"""The last slot (``profiles.extensions.pin_change``, read inside a profiles selector) until
the pin change's connection count comes from the service that needs it. Pages have no slots:
the dashboard assembles each page by calling each app's selectors (dashboard/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Provider = Callable[..., dict[str, Any]]


class PagePanels:
    """The panels of one page: providers called with the page's keyword arguments, each
    returning template context entries."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._providers: dict[str, Provider] = {}

    def __repr__(self) -> str:
        return f"PagePanels({self.name!r})"

    def register(self, provider: Provider) -> Provider:
        """Add a provider (idempotent: registering the same function again replaces it)."""
        self._providers[f"{provider.__module__}.{provider.__qualname__}"] = provider
        return provider

    def context(self, **kwargs: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for provider in self._providers.values():
            merged.update(provider(**kwargs))
        return merged

    def panels(self, **kwargs: Any) -> list[dict[str, Any]]:
        """For pages that list panels (the overview): each provider returns ``{"panels":
        [...]}``, each panel a dict with ``template``, ``order`` and its own entries; the
        page gets every provider's panels, by ``order``. A provider with nothing to show
        (no data yet) returns no panel."""
        return sorted(self.items("panels", **kwargs), key=lambda panel: panel.get("order", 100))

    def items(self, key: str, **kwargs: Any) -> list[Any]:
        """Every provider's list under ``key``, one after another (nothing is overwritten)."""
        found: list[Any] = []
        for provider in self._providers.values():
            found.extend(provider(**kwargs).get(key, []))
        return found
