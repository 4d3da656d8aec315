"""Tenancy rules and the audit entries every write leaves."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from projects.models import ApiKey, AuditEntry, Membership, Role, Team
from projects.services import (
    Actor,
    ConflictError,
    ServiceError,
    api_key_create,
    membership_add,
    membership_change_role,
    membership_remove,
    project_update,
    team_create,
    team_member_add,
)
from tests.conftest import Tenancy
from tests.factories import make_member, make_organization


def actor_for(tenancy: Tenancy, who: str) -> Actor:
    return Actor(user=tenancy.users[who], ip="203.0.113.7")


def test_audit_entry_records_actor_target_before_after_and_ip(tenancy: Tenancy) -> None:
    project_update(actor=actor_for(tenancy, "admin"), project=tenancy.project, name="Production EU")
    entry = AuditEntry.objects.get(action="project.updated")
    assert entry.actor == tenancy.users["admin"]
    assert entry.actor_label == "admin"
    assert entry.project == tenancy.project
    assert entry.target_type == "project" and entry.target_id == str(tenancy.project.pk)
    assert entry.before == {"name": "Project acme-prod"}
    assert entry.after == {"name": "Production EU"}
    assert entry.ip_address == "203.0.113.7"


def test_api_key_audit_holds_the_prefix_never_the_key(tenancy: Tenancy) -> None:
    api_key, raw = api_key_create(
        actor=actor_for(tenancy, "owner"), project=tenancy.project, name="CI"
    )
    entry = AuditEntry.objects.get(action="api_key.created")
    assert entry.after == {"name": "CI", "prefix": api_key.prefix, "scope": "full"}
    assert raw not in str(entry.after) and raw not in entry.target_repr


def test_add_existing_user_and_invite_new_one(tenancy: Tenancy) -> None:
    other_owner = tenancy.users["stranger"]
    membership = membership_add(
        actor=actor_for(tenancy, "admin"),
        organization=tenancy.organization,
        email=other_owner.email.upper(),
        role=Role.VIEWER,
    )
    assert membership.user == other_owner
    with pytest.raises(ConflictError):
        membership_add(
            actor=actor_for(tenancy, "admin"),
            organization=tenancy.organization,
            email=other_owner.email,
            role=Role.MEMBER,
        )


@pytest.mark.django_db(transaction=True)
def test_new_member_gets_an_invitation_with_a_working_link(tenancy: Tenancy, client) -> None:
    membership_add(
        actor=actor_for(tenancy, "owner"),
        organization=tenancy.organization,
        email="newbie@example.com",
        role=Role.MEMBER,
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newbie@example.com"]
    assert tenancy.organization.name in message.subject
    assert "owner added you" in message.body
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path, follow=True)
    assert response.status_code == 200
    assert b"Choose a password" in response.content
    form_url = response.redirect_chain[-1][0]
    done = client.post(
        form_url,
        {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"},
    )
    assert done.status_code == 302
    # Through the login page (django-axes refuses Client.login, which passes no request).
    login = client.post(
        "/accounts/login/",
        {"username": "newbie@example.com", "password": "a-long-new-passphrase"},
    )
    assert login.status_code == 302 and "_auth_user_id" in client.session


def test_only_owners_grant_or_touch_the_owner_role(tenancy: Tenancy) -> None:
    admin = actor_for(tenancy, "admin")
    member = Membership.objects.get(user=tenancy.users["member"])
    with pytest.raises(ServiceError, match="Only an owner"):
        membership_change_role(actor=admin, membership=member, role=Role.OWNER)
    owner_membership = Membership.objects.get(user=tenancy.users["owner"])
    with pytest.raises(ServiceError, match="Only an owner"):
        membership_remove(actor=admin, membership=owner_membership)
    membership_change_role(actor=actor_for(tenancy, "owner"), membership=member, role=Role.OWNER)
    assert Membership.objects.get(pk=member.pk).role == Role.OWNER


def test_the_last_owner_stays(tenancy: Tenancy) -> None:
    owner = actor_for(tenancy, "owner")
    me = Membership.objects.get(user=tenancy.users["owner"])
    with pytest.raises(ServiceError, match="at least one owner"):
        membership_change_role(actor=owner, membership=me, role=Role.ADMIN)
    with pytest.raises(ServiceError, match="last one"):
        membership_remove(actor=owner, membership=me)
    assert Membership.objects.get(pk=me.pk).role == Role.OWNER
    assert not AuditEntry.objects.filter(action__startswith="member.").exists()


def test_removing_a_member_takes_them_out_of_teams(tenancy: Tenancy) -> None:
    owner = actor_for(tenancy, "owner")
    team = team_create(actor=owner, organization=tenancy.organization, name="Support")
    team_member_add(actor=owner, team=team, user_id=tenancy.users["member"].pk)
    membership_remove(actor=owner, membership=Membership.objects.get(user=tenancy.users["member"]))
    assert not team.members.exists()
    assert AuditEntry.objects.filter(action="member.removed").count() == 1


def test_teams_take_only_members_of_their_organization(tenancy: Tenancy) -> None:
    owner = actor_for(tenancy, "owner")
    team = team_create(actor=owner, organization=tenancy.organization, name="Support")
    with pytest.raises(ServiceError, match="Only members"):
        team_member_add(actor=owner, team=team, user_id=tenancy.users["stranger"].pk)
    with pytest.raises(ConflictError):
        team_create(actor=owner, organization=tenancy.organization, name="support")
    # the same name in another organization is fine
    team_create(actor=owner, organization=make_organization(), name="Support")
    assert Team.objects.filter(name="Support").count() == 2


def test_bad_input_changes_nothing(tenancy: Tenancy) -> None:
    owner = actor_for(tenancy, "owner")
    count = Membership.objects.count()
    for email, role in [("not-an-email", "member"), ("x@example.com", "superuser")]:
        with pytest.raises(ServiceError):
            membership_add(actor=owner, organization=tenancy.organization, email=email, role=role)
    with pytest.raises(ServiceError):
        project_update(actor=owner, project=tenancy.project, name="   ")
    assert Membership.objects.count() == count
    assert not AuditEntry.objects.exists()


def test_dashboard_writes_leave_audit_entries_with_the_request_ip(tenancy: Tenancy) -> None:
    client = tenancy.client("owner")
    slug = tenancy.project.slug
    client.post(
        reverse("settings_api_keys", args=[slug]), {"name": "deploy"}, REMOTE_ADDR="198.51.100.4"
    )
    key = ApiKey.objects.get(name="deploy")
    client.post(reverse("api_key_revoke", args=[slug, key.pk]))
    client.post(reverse("team_add", args=[slug]), {"name": "Ops"})
    client.post(reverse("member_add", args=[slug]), {"email": "x@example.com", "role": "viewer"})
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["api_key.created", "api_key.revoked", "team.created", "member.added"]
    assert AuditEntry.objects.get(action="api_key.created").ip_address == "198.51.100.4"
    assert set(AuditEntry.objects.values_list("actor_label", flat=True)) == {"owner"}


def test_member_of_two_organizations_sees_both_in_the_switcher(tenancy: Tenancy) -> None:
    user = tenancy.users["viewer"]
    Membership.objects.create(
        organization=tenancy.other_project.organization, user=user, role=Role.VIEWER
    )
    response = tenancy.client("viewer").get(reverse("project_home", args=[tenancy.project.slug]))
    assert tenancy.other_project.name.encode() in response.content
    make_member(tenancy.organization)  # unrelated: no effect on the viewer's switcher
