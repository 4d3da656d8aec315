"""Access to webhook endpoints and deliveries for a dashboard user (404 to strangers).

Webhook settings and deliveries are for organization owners and admins only, reading
included: a delivery's payload names connections and their end users' ids across the whole
project, which a member or viewer may not all see (a per-reader filter of payloads was the
other choice; one rule is simpler and safer)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from projects.permissions import Need, ProjectAccess, UserLike, get_project_for_user

from . import selectors
from .models import Delivery, WebhookEndpoint

WEBHOOKS_NEED = Need.MANAGE  # reading too: see the module's docstring


def get_endpoint_for_user(
    user: UserLike, slug: str, endpoint_id: Any, *, need: Need = WEBHOOKS_NEED
) -> tuple[ProjectAccess, WebhookEndpoint]:
    access = get_project_for_user(user, slug, need=need)
    endpoint = selectors.endpoint_of(access.project, endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return access, endpoint


def get_delivery_for_user(
    user: UserLike, slug: str, endpoint_id: Any, delivery_id: Any, *, need: Need = Need.MANAGE
) -> tuple[ProjectAccess, Delivery]:
    access, endpoint = get_endpoint_for_user(user, slug, endpoint_id, need=need)
    delivery = selectors.delivery_of(endpoint, delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    return access, delivery
