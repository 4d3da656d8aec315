from django.urls import path

from . import settings as views

urlpatterns = [
    path("settings/", views.settings_general, name="settings_general"),
    path("settings/members/", views.settings_members, name="settings_members"),
    path("settings/members/add/", views.member_add, name="member_add"),
    path("settings/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/teams/add/", views.team_add, name="team_add"),
    path("settings/teams/<int:team_id>/delete/", views.team_delete, name="team_delete"),
    path("settings/teams/members/add/", views.team_member_add, name="team_member_add"),
    path(
        "settings/teams/<int:team_id>/members/remove/",
        views.team_member_remove,
        name="team_member_remove",
    ),
    path("settings/api-keys/", views.settings_api_keys, name="settings_api_keys"),
    path("settings/api-keys/<int:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/audit/", views.settings_audit, name="settings_audit"),
    path("settings/danger-zone/", views.settings_danger, name="settings_danger"),
]
