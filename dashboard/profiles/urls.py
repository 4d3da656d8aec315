from django.urls import path

from dashboard.rollouts import staged

from . import views

urlpatterns = [
    path("profiles/", views.profile_list, name="profile_list"),
    path("profiles/new/", views.profile_new, name="profile_new"),
    path("profiles/<uuid:profile_id>/", views.profile_detail, name="profile_detail"),
    path("profiles/<uuid:profile_id>/save/", views.profile_save, name="profile_save"),
    path("profiles/<uuid:profile_id>/agent-tools/", views.agent_tools, name="profile_agent_tools"),
    path(
        "profiles/<uuid:profile_id>/agent-tools/switch/",
        views.agent_tool_switch,
        name="profile_agent_tool_switch",
    ),
    path(
        "profiles/<uuid:profile_id>/agent-tools/limit/",
        views.agent_limit,
        name="profile_agent_limit",
    ),
    path("profiles/<uuid:profile_id>/pin/", views.pin_save, name="profile_pin"),
    path("profiles/<uuid:profile_id>/pin/preview/", views.pin_preview, name="profile_pin_preview"),
    path("profiles/<uuid:profile_id>/rollout/new/", staged.rollout_new, name="rollout_new"),
    path(
        "profiles/<uuid:profile_id>/rollout/<str:verb>/",
        staged.rollout_transition,
        name="rollout_transition",
    ),
]
