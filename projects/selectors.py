"""Permission-scoped reads for the tenancy pages."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Prefetch, Q, QuerySet

from .models import ApiKey, AuditEntry, Membership, Organization, Project, Team


def projects_for_user(user: User | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return (
        Project.objects.filter(organization__memberships__user=user)
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def organizations_for_user(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def members_of(organization: Organization, *, search: str = "") -> QuerySet[Membership]:
    members = Membership.objects.filter(organization=organization)
    if search:
        members = members.filter(
            Q(user__username__icontains=search) | Q(user__email__icontains=search)
        )
    return members.select_related("user").order_by("user__username")


def teams_of(organization: Organization) -> QuerySet[Team]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.order_by("username")
    return (
        Team.objects.filter(organization=organization)
        .prefetch_related(Prefetch("members", queryset=users))
        .annotate(member_count=Count("members"))
        .order_by("name")
    )


def api_keys_of(project: Project) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(project=project)
        .select_related("created_by")
        .order_by("revoked_at", "-created_at")
    )


def audit_entries_for_project(
    project: Project,
    *,
    action: str = "",
    actor: str = "",
    target_type: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEntry]:
    """This project's entries plus the organization-wide ones (members, teams), newest first."""
    entries = AuditEntry.objects.filter(organization_id=project.organization_id).filter(
        Q(project=project) | Q(project__isnull=True)
    )
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    if target_type:
        entries = entries.filter(target_type=target_type)
    if since:
        entries = entries.filter(created_at__date__gte=since)
    if until:
        entries = entries.filter(created_at__date__lte=until)
    return entries.order_by("-id")


def audited_target_types() -> list[str]:
    """Every model name an audit entry can point at (no query; for the filter's choices)."""
    from django.apps import apps

    labels = ("projects", "connectors", "profiles", "connections")
    return sorted(
        model._meta.model_name or ""
        for label in labels
        for model in apps.get_app_config(label).get_models()
        if model is not AuditEntry
    )
