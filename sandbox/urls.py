from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from . import oauth, views

urlpatterns = [
    path("api/me", views.api_me, name="sandbox_api_me"),
    path("api/oauth-me", oauth.SandboxOAuthMe.as_view(), name="sandbox_oauth_me"),
    path("oauth/authorize/", oauth.SandboxConsentView.as_view(), name="sandbox_authorize"),
    path("oauth/token/", csrf_exempt(TokenView.as_view()), name="sandbox_token"),
]
