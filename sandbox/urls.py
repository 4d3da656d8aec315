from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from . import oauth, provider, views

urlpatterns = [
    path("api/me", views.api_me, name="sandbox_api_me"),
    path("api/oauth-me", oauth.SandboxOAuthMe.as_view(), name="sandbox_oauth_me"),
    path("api/account", provider.me, name="sandbox_account"),
    path("api/hr/employees", provider.hr_employees, name="sandbox_hr_employees"),
    path("api/crm/contacts", provider.crm_contacts, name="sandbox_crm_contacts"),
    path("api/crm/contacts/<int:contact_id>", provider.crm_contact, name="sandbox_crm_contact"),
    path("api/files/items/<str:item_id>", provider.files_item, name="sandbox_files_item"),
    path(
        "api/files/items/<str:item_id>/children",
        provider.files_children,
        name="sandbox_files_children",
    ),
    path("api/files/search", provider.files_search, name="sandbox_files_search"),
    # The same data API under a version prefix (the staged-rollout demo's failure switch).
    path("api/v/<str:version>/", include(provider.versioned_urls)),
    path("oauth/authorize/", oauth.SandboxConsentView.as_view(), name="sandbox_authorize"),
    path("oauth/token/", csrf_exempt(TokenView.as_view()), name="sandbox_token"),
]
