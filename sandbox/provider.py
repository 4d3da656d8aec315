"""The sandbox provider's data API (local and test settings only), for actions to call:

- ``GET /sandbox/api/hr/employees?page_token=&limit=`` — HR employees, cursor pagination
  (``next_page_token``);
- ``GET /sandbox/api/crm/contacts?offset=&limit=`` — CRM contacts, offset pagination
  (``paging.next_offset``), and ``/crm/contacts/<id>``;
- ``GET /sandbox/api/files/items/<id>``, ``/files/items/<id>/children`` (``root`` for the top)
  and ``/files/search?q=`` — a folders/files tree for seed 002's resources.

Accepted credentials: an ``X-API-Key`` starting ``demo_live_`` (as ``/sandbox/api/me``), or
an OAuth access token of the sandbox authorization server. Errors on demand: ``simulate=401``
(or an API key starting ``demo_expired_``), ``simulate=500``, ``simulate=slow`` (answers after
10 s, beyond the outbound read timeout).

Every route also answers under ``/sandbox/api/v/<version>/`` (the staged-rollout demo's
definitions call it so): the failure switch (``manage.py sandbox_failure 1.2.0``, kept in the
store every process shares) makes the calls of one version answer 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from oauth2_provider.models import get_access_token_model

from core.freshness import generation_store

DEPARTMENTS = ("Engineering", "Sales", "Support", "Finance", "People")
STATUSES = ("Active", "On leave", "Terminated")
EMPLOYEES = 120
CONTACTS = 230
MAX_LIMIT = 100

View = Callable[..., JsonResponse]
FAILING_KEY = "sandbox-failing-version"


def failing_version() -> str | None:
    """The version whose calls the sandbox fails (the demo's switch), or None."""
    return generation_store().get(FAILING_KEY)


def set_failing_version(version: str | None) -> None:
    if version:
        generation_store().set(FAILING_KEY, version, timeout=None)
    else:
        generation_store().delete(FAILING_KEY)


def _authorized(request: HttpRequest) -> bool:
    key = request.headers.get("X-API-Key", "")
    if key.startswith("demo_live_"):
        return True
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    token = header.removeprefix("Bearer ").strip()
    return get_access_token_model().objects.filter(token=token, expires__gt=timezone.now()).exists()


def sandbox_api(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        version = kwargs.pop("version", None)
        if version is not None and version == failing_version():
            return JsonResponse({"error": f"version {version} is switched to fail"}, status=500)
        simulate = request.GET.get("simulate", "")
        if simulate == "slow":
            time.sleep(10)
        if simulate == "500":
            return JsonResponse({"error": "internal_error"}, status=500)
        if simulate == "401" or not _authorized(request):
            return JsonResponse({"error": "invalid_credentials"}, status=401)
        return view(request, *args, **kwargs)

    return require_GET(wrapped)


def _limit(request: HttpRequest, default: int = 50) -> int:
    try:
        return max(1, min(MAX_LIMIT, int(request.GET.get("limit", default))))
    except ValueError:
        return default


def employee(n: int) -> dict[str, Any]:
    started = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=17 * n)
    return {
        "id": f"emp_{n:04d}",
        "first_name": f"Given{n}",
        "last_name": f"Family{n}",
        "work_email": f"person{n}@sandbox.example",
        "department": DEPARTMENTS[n % len(DEPARTMENTS)],
        "employment_status": STATUSES[n % len(STATUSES)],
        "start_date": started.date().isoformat(),
        "salary": str(40_000 + 1_000 * n),
        "manager_id": f"emp_{n // 10:04d}" if n >= 10 else None,
        "phones": [f"+1-555-{n:04d}"],
    }


@sandbox_api
def hr_employees(request: HttpRequest) -> JsonResponse:
    token = request.GET.get("page_token", "")
    start = int(token[1:]) if token.startswith("e") and token[1:].isdigit() else 0
    limit = _limit(request)
    end = min(EMPLOYEES, start + limit)
    body = {
        "employees": [employee(n) for n in range(start, end)],
        "next_page_token": f"e{end}" if end < EMPLOYEES else None,
    }
    return JsonResponse(body)


def contact(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "name": f"Contact {n}",
        "email": f"contact{n}@customer.example",
        "stage": ("lead", "customer", "churned")[n % 3],
        "score": str(n % 100),
        "vip": "yes" if n % 7 == 0 else "no",
        "created": 1_700_000_000 + 3600 * n,
    }


@sandbox_api
def crm_contacts(request: HttpRequest) -> JsonResponse:
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        offset = 0
    limit = _limit(request)
    end = min(CONTACTS, offset + limit)
    return JsonResponse(
        {
            "contacts": [contact(n) for n in range(offset, end)],
            "paging": {"next_offset": end if end < CONTACTS else None, "total": CONTACTS},
        }
    )


@sandbox_api
def crm_contact(request: HttpRequest, contact_id: int) -> JsonResponse:
    if not 0 <= contact_id < CONTACTS:
        return JsonResponse({"error": "not_found"}, status=404)
    return JsonResponse({"contact": contact(contact_id)})


@sandbox_api
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"account": {"id": "sandbox", "name": "Sandbox account", "plan": "demo"}})


# The files tree: root → 3 folders → 4 files each.
def _tree() -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for f in range(3):
        folder = f"folder_{f}"
        items[folder] = {"id": folder, "name": f"Folder {f}", "kind": "folder", "parent": None}
        for n in range(4):
            file_id = f"file_{f}_{n}"
            items[file_id] = {
                "id": file_id,
                "name": f"Report {f}-{n}.pdf",
                "kind": "file",
                "parent": folder,
            }
    return items


TREE = _tree()


@sandbox_api
def files_item(request: HttpRequest, item_id: str) -> JsonResponse:
    item = TREE.get(item_id)
    if item is None:
        return JsonResponse({"error": "not_found"}, status=404)
    return JsonResponse({"item": item})


@sandbox_api
def files_children(request: HttpRequest, item_id: str) -> JsonResponse:
    parent = None if item_id == "root" else item_id
    children = [item for item in TREE.values() if item["parent"] == parent]
    return JsonResponse({"items": children, "next": None})


@sandbox_api
def files_search(request: HttpRequest) -> JsonResponse:
    query = request.GET.get("q", "").lower()
    found = [item for item in TREE.values() if query and query in item["name"].lower()]
    return JsonResponse({"items": found, "next": None})


def versioned_oauth_me(request: HttpRequest, version: str) -> Any:
    """The OAuth health check under a version prefix (failing with the switch)."""
    from .oauth import SandboxOAuthMe

    if version == failing_version():
        return JsonResponse({"error": f"version {version} is switched to fail"}, status=500)
    return SandboxOAuthMe.as_view()(request)


versioned_urls = [
    path("oauth-me", versioned_oauth_me),
    path("account", me),
    path("hr/employees", hr_employees),
    path("crm/contacts", crm_contacts),
    path("crm/contacts/<int:contact_id>", crm_contact),
    path("files/items/<str:item_id>", files_item),
    path("files/items/<str:item_id>/children", files_children),
    path("files/search", files_search),
]
