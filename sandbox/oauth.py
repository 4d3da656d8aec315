"""The sandbox OAuth 2 authorization server (django-oauth-toolkit, PKCE required).

The consent screen acts for one fixed sandbox end user, so the person connecting never logs
in to this dashboard: the request's user is set for the authorization call only (no session
login). The token endpoint is django-oauth-toolkit's own; ``/sandbox/api/oauth-me`` is a
protected resource for health checks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.views import AuthorizationView, ProtectedResourceView

SANDBOX_USERNAME = "sandbox-end-user"


def sandbox_user() -> User:
    user, created = get_user_model().objects.get_or_create(
        username=SANDBOX_USERNAME, defaults={"email": "end-user@sandbox.example"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


class SandboxConsentView(AuthorizationView):
    template_name = "sandbox/consent.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.user = sandbox_user()
        response = super().dispatch(request, *args, **kwargs)
        # Like a real provider's consent screen: a connect popup keeps its opener through it.
        response["Cross-Origin-Opener-Policy"] = "unsafe-none"
        return response


class SandboxOAuthMe(ProtectedResourceView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"id": "sandbox-end-user", "name": "Sandbox end user"})
