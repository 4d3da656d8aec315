"""Writes on organizations, members, teams, projects and API keys; every one is audited.

Interfaces (views, API, admin actions, commands) call these; they never write models directly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import ApiKey, ApiKeyScope, AuditEntry, Membership, Organization, Project, Role, Team

API_KEY_PREFIX = "chk_"
# last_used_at is refreshed at most this often, so authentication is not a write per request.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


class ServiceError(Exception):
    """A refused request: the message is shown to the user as it is."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(ServiceError):
    status = 409
    code = "conflict"


class RefusedError(ServiceError):
    """Well-formed but refused by a rule (e.g. an unacknowledged breaking change)."""

    status = 422
    code = "refused"


@dataclass(frozen=True)
class Actor:
    """Who performs a write: a dashboard user, an API key, or the system (commands)."""

    user: User | None = None
    api_key: ApiKey | None = None
    ip: str | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        if self.api_key is not None:
            return f"API key {self.api_key.prefix}"
        return "system"

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, ip=client_ip(request))

    @classmethod
    def system(cls) -> Actor:
        return cls()


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For can be forged unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Actor,
    organization: Organization | None,
    action: str,
    target: models.Model,
    project: Project | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        organization=organization,
        project=project,
        actor=actor.user if actor.user is not None else None,
        actor_label=actor.label[:200],
        action=action,
        target_type=target._meta.model_name or "",
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        before=before,
        after=after,
        ip_address=actor.ip,
    )


# --- Organizations and projects ----------------------------------------------------------------


@transaction.atomic
def organization_create(
    *, actor: Actor, slug: str, name: str, owner: User | None = None
) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise ConflictError(f"The organization slug “{slug}” is taken.", field="slug")
    organization = Organization(slug=slug, name=name)
    organization.full_clean()
    organization.save()
    if owner is not None:
        Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    audit_record(
        actor=actor,
        organization=organization,
        action="organization.created",
        target=organization,
        after={"slug": slug, "name": name},
    )
    return organization


@transaction.atomic
def project_create(*, actor: Actor, organization: Organization, slug: str, name: str) -> Project:
    if Project.objects.filter(slug=slug).exists():
        raise ConflictError(f"The project slug “{slug}” is taken.", field="slug")
    project = Project(organization=organization, slug=slug, name=name)
    project.full_clean()
    try:
        with transaction.atomic():
            project.save()
    except IntegrityError as exc:
        raise ConflictError(f"The project slug “{slug}” is taken.", field="slug") from exc
    audit_record(
        actor=actor,
        organization=organization,
        project=project,
        action="project.created",
        target=project,
        after={"slug": slug, "name": name},
    )
    return project


@transaction.atomic
def project_update(*, actor: Actor, project: Project, name: str) -> Project:
    name = name.strip()
    if not name:
        raise ServiceError("The project name cannot be empty.", field="name")
    before = {"name": project.name}
    if before["name"] == name:
        return project
    project.name = name
    project.save(update_fields=["name", "updated_at"])
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="project.updated",
        target=project,
        before=before,
        after={"name": name},
    )
    return project


@transaction.atomic
def project_set_immutable_versioning(
    *, actor: Actor, project: Project, enabled: bool, confirmation: str
) -> Project:
    """The Danger Zone toggle: the caller must type the project's slug to confirm."""
    if confirmation.strip() != project.slug:
        raise ServiceError(
            f"Type the project slug “{project.slug}” to confirm.", field="confirmation"
        )
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = project.immutable_versioning
    if before == enabled:
        return project
    project.immutable_versioning = enabled
    project.save(update_fields=["immutable_versioning", "updated_at"])
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="project.immutable_versioning_changed",
        target=project,
        before={"immutable_versioning": before},
        after={"immutable_versioning": enabled},
    )
    return project


# --- Members ------------------------------------------------------------------------------------


def _lock_organization(organization_id: int) -> Organization:
    """Serialize owner-changing writes of one organization (row lock until commit)."""
    return Organization.objects.select_for_update().get(pk=organization_id)


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


def _actor_role(actor: Actor, organization: Organization) -> str | None:
    if actor.user is None:
        return Role.OWNER  # the system (management commands) acts with full rights
    membership = Membership.objects.filter(organization=organization, user=actor.user).first()
    return membership.role if membership else None


def _require_owner_for(actor: Actor, organization: Organization, *roles: str) -> None:
    if Role.OWNER in roles and _actor_role(actor, organization) != Role.OWNER:
        raise ServiceError("Only an owner can grant, change or remove the owner role.")


@transaction.atomic
def membership_add(
    *,
    actor: Actor,
    organization: Organization,
    email: str,
    role: str,
    project: Project | None = None,
) -> Membership:
    """Add a user by email; a new user is created and emailed a link to set a password."""
    email = User.objects.normalize_email(email.strip()).lower()
    if not email or "@" not in email:
        raise ServiceError("Enter a valid email address.", field="email")
    if role not in Role.values:
        raise ServiceError("Choose a role: owner, admin, member or viewer.", field="role")
    _require_owner_for(actor, organization, role)
    user = User.objects.filter(email__iexact=email).first()
    invited = False
    if user is None:
        user = User.objects.create_user(username=email, email=email)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        invited = True
    elif Membership.objects.filter(organization=organization, user=user).exists():
        raise ConflictError(f"{email} is already a member.", field="email")
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit_record(
        actor=actor,
        organization=organization,
        project=project,
        action="member.added",
        target=membership,
        after={"user": user.get_username(), "role": role, "invited": invited},
    )
    if invited:
        context = {"organization": organization.name, "inviter": actor.label}
        transaction.on_commit(lambda: _send_invitation(email, context))
    return membership


def _send_invitation(email: str, context: dict[str, str]) -> None:
    """Email a set-your-password link; the link's host comes from SITE_URL, never a request."""
    site = urlsplit(settings.SITE_URL)
    form = PasswordResetForm(data={"email": email})
    if form.is_valid():
        # Unusable passwords are skipped by PasswordResetForm.get_users; include them here.
        form.get_users = lambda _email: User.objects.filter(email__iexact=email, is_active=True)  # type: ignore[method-assign,assignment]
        form.save(
            domain_override=site.netloc,
            subject_template_name="registration/invitation_subject.txt",
            email_template_name="registration/invitation_email.txt",
            use_https=site.scheme == "https",
            extra_email_context=context,
        )


@transaction.atomic
def membership_change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ServiceError("Choose a role: owner, admin, member or viewer.", field="role")
    _lock_organization(membership.organization_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = membership.role
    if before == role:
        return membership
    _require_owner_for(actor, membership.organization, before, role)
    if before == Role.OWNER and _owner_count(membership.organization) <= 1:
        raise ServiceError(
            "An organization needs at least one owner; make someone else owner first."
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="member.role_changed",
        target=membership,
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Actor, membership: Membership) -> None:
    _lock_organization(membership.organization_id)
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    _require_owner_for(actor, membership.organization, membership.role)
    if membership.role == Role.OWNER and _owner_count(membership.organization) <= 1:
        raise ServiceError("An organization needs at least one owner; this is the last one.")
    organization = membership.organization
    user = membership.user
    for team in Team.objects.filter(organization=organization, members=user):
        team.members.remove(user)
    audit_record(
        actor=actor,
        organization=organization,
        action="member.removed",
        target=membership,
        before={"user": user.get_username(), "role": membership.role},
    )
    membership.delete()


# --- Teams --------------------------------------------------------------------------------------


@transaction.atomic
def team_create(*, actor: Actor, organization: Organization, name: str) -> Team:
    name = name.strip()
    if not name:
        raise ServiceError("Give the team a name.", field="name")
    if Team.objects.filter(organization=organization, name__iexact=name).exists():
        raise ConflictError(f"A team named “{name}” exists already.", field="name")
    team = Team.objects.create(organization=organization, name=name)
    audit_record(
        actor=actor,
        organization=organization,
        action="team.created",
        target=team,
        after={"name": name},
    )
    return team


@transaction.atomic
def team_delete(*, actor: Actor, team: Team) -> None:
    audit_record(
        actor=actor,
        organization=team.organization,
        action="team.deleted",
        target=team,
        before={"name": team.name, "members": sorted(u.get_username() for u in team.members.all())},
    )
    team.delete()


@transaction.atomic
def team_member_add(*, actor: Actor, team: Team, user_id: int) -> Team:
    membership = (
        Membership.objects.select_related("user")
        .filter(organization=team.organization, user_id=user_id)
        .first()
    )
    if membership is None:
        raise ServiceError("Only members of the organization can join its teams.", field="user")
    if team.members.filter(pk=user_id).exists():
        raise ConflictError(f"{membership.user.get_username()} is already in {team.name}.")
    team.members.add(membership.user)
    audit_record(
        actor=actor,
        organization=team.organization,
        action="team.member_added",
        target=team,
        after={"user": membership.user.get_username()},
    )
    return team


@transaction.atomic
def team_member_remove(*, actor: Actor, team: Team, user_id: int) -> Team:
    user = team.members.filter(pk=user_id).first()
    if user is None:
        raise ServiceError("That user is not in this team.", field="user")
    team.members.remove(user)
    audit_record(
        actor=actor,
        organization=team.organization,
        action="team.member_removed",
        target=team,
        before={"user": user.get_username()},
    )
    return team


# --- API keys -----------------------------------------------------------------------------------


def _hash_key(raw_key: str) -> str:
    # API keys carry 256 bits of randomness, so a fast digest is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, actor: Actor, project: Project, name: str, scope: str = ApiKeyScope.FULL
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its plaintext, which is never stored nor shown again.
    ``scope`` is ``full`` (default) or ``read`` (GET only in the API)."""
    name = name.strip() or "API key"
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    raw_key = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        project=project,
        name=name[:100],
        scope=ApiKeyScope(scope),
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        created_by=actor.user,
    )
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="api_key.created",
        target=api_key,
        after={"name": api_key.name, "prefix": prefix, "scope": api_key.scope},
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        organization=api_key.project.organization,
        project=api_key.project,
        action="api_key.revoked",
        target=api_key,
        before={"active": True},
        after={"active": False},
    )
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key`` (with its project loaded), or None."""
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 200:
        return None
    prefix, _, _secret = raw_key.partition("_")[2].partition("_")
    try:
        # The prefix is unique: get (no ORDER BY to build, as first would add).
        api_key = (
            ApiKey.objects.active()
            .select_related("project__organization")
            .get(prefix=API_KEY_PREFIX + prefix)
        )
    except ApiKey.DoesNotExist:
        return None
    if not hmac.compare_digest(api_key.key_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
