"""Permission-scoped reads for the tenancy pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connections
from django.db.models import Count, Field, Model, Prefetch, Q, QuerySet
from django.db.models.expressions import Col
from django.utils.text import capfirst

from .models import ApiKey, AuditEntry, Membership, Organization, Project, Team


def projects_for_user(user: User | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return (
        Project.objects.filter(organization__memberships__user=user)
        .select_related("organization")
        .order_by("organization__name", "name")
    )


SWITCHER_ATTR = "_switcher_projects"


@dataclass(frozen=True)
class _MembershipQuery:
    """The SQL of ``projects_with_membership`` for one database, with what turns each
    column's value into the model's (the backend's and the field's converters, as the ORM
    applies them: dates on SQLite, for instance)."""

    sql: str
    fields: tuple[tuple[type[Model], tuple[Field[Any, Any], ...]], ...]
    converters: tuple[tuple[Col, tuple[Any, ...]], ...]

    @classmethod
    def build(cls, alias: str) -> _MembershipQuery:
        db = connections[alias]
        qn = db.ops.quote_name
        models = (Project, Organization, Membership)
        fields = tuple((m, tuple(m._meta.concrete_fields)) for m in models)

        def column(model: type[Model], name: str) -> str:
            field = model._meta.get_field(name)
            assert isinstance(field, Field)  # a concrete column, not a reverse relation
            return f"{qn(model._meta.db_table)}.{qn(str(field.column))}"

        columns = ", ".join(
            f"{qn(m._meta.db_table)}.{qn(str(f.column))}" for m, fs in fields for f in fs
        )
        # Identifiers only from the models' metadata, quoted; the user id is a parameter.
        sql = (
            f"SELECT {columns} FROM {qn(Project._meta.db_table)}"  # noqa: S608
            f" INNER JOIN {qn(Organization._meta.db_table)}"
            f" ON {column(Organization, 'id')} = {column(Project, 'organization')}"
            f" INNER JOIN {qn(Membership._meta.db_table)}"
            f" ON {column(Membership, 'organization')} = {column(Organization, 'id')}"
            f" WHERE {column(Membership, 'user')} = %s"
            f" ORDER BY {column(Organization, 'name')} ASC, {column(Project, 'name')} ASC"
        )
        converters = []
        for model, model_fields in fields:
            for f in model_fields:
                col = f.get_col(model._meta.db_table)
                found = db.ops.get_db_converters(col) + f.get_db_converters(db)
                converters.append((col, tuple(found)))
        return cls(sql, fields, tuple(converters))


_MEMBERSHIP_QUERIES: dict[str, _MembershipQuery] = {}


def projects_with_membership(user: User | AnonymousUser) -> list[tuple[Project, Membership]]:
    """The user's projects (as ``projects_for_user`` orders them), each with its organization
    and the user's membership of it: the lookup of every project page (and the project
    switcher's list). Written as one SQL statement built from the three models' fields, not a
    queryset: building and compiling the equivalent annotated queryset cost ~0.7 ms of CPU on
    every project page, this ~0.1 ms (bench/connections.py). tests/projects/test_pages.py
    checks it against the queryset."""
    if not user.is_authenticated:
        return []
    alias = Project.objects.db
    query = _MEMBERSHIP_QUERIES.get(alias)
    if query is None:
        query = _MEMBERSHIP_QUERIES[alias] = _MembershipQuery.build(alias)
    db = connections[alias]
    with db.cursor() as cursor:
        cursor.execute(query.sql, [user.pk])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row)
        for i, (col, converters) in enumerate(query.converters):
            for convert in converters:
                values[i] = convert(values[i], col, db)
        objects = []
        start = 0
        for model, model_fields in query.fields:
            end = start + len(model_fields)
            names = [f.attname for f in model_fields]
            objects.append(model.from_db(alias, names, values[start:end]))
            start = end
        project, organization, membership = objects
        project.organization = organization  # type: ignore[attr-defined]
        membership.organization = organization  # type: ignore[attr-defined]
        found.append((project, membership))
    return found  # type: ignore[return-value]


def remember_switcher_projects(user: User | AnonymousUser, projects: list[Project]) -> None:
    """Keep the user's projects, as ``projects_for_user`` lists them, for this request's
    project switcher (the user object lives for one request)."""
    setattr(user, SWITCHER_ATTR, projects)


def switcher_projects(user: User | AnonymousUser) -> list[Project] | QuerySet[Project]:
    """The project switcher's list: the one this request's project lookup read, else a query
    (evaluated lazily, by the template)."""
    remembered: list[Project] | None = getattr(user, SWITCHER_ATTR, None)
    return remembered if remembered is not None else projects_for_user(user)


def project_to_open(user: User | AnonymousUser, last_slug: str | None) -> Project | None:
    """The project the home page opens: the one visited last while the user still belongs to
    it, else the user's first project (None when they have none)."""
    projects = projects_for_user(user)
    return (projects.filter(slug=last_slug).first() if last_slug else None) or projects.first()


def project_by_slug(slug: str) -> Project | None:
    """Any project by its slug, with its organization (for the management commands)."""
    return Project.objects.select_related("organization").filter(slug=slug).first()


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def with_current_settings(project: Project) -> Project:
    """``project`` with its Danger Zone setting read again (a write may have gone through
    another instance of the row)."""
    project.refresh_from_db(fields=["immutable_versioning"])
    return project


def organizations_for_user(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def members_of(organization: Organization, *, search: str = "") -> QuerySet[Membership]:
    members = Membership.objects.filter(organization=organization)
    if search:
        members = members.filter(
            Q(user__username__icontains=search) | Q(user__email__icontains=search)
        )
    return members.select_related("user").order_by("user__username")


def member_choices(organization: Organization) -> QuerySet[Membership, tuple[int, str]]:
    """(user id, username) of every member, by username: the choices of the team forms."""
    return members_of(organization).values_list("user_id", "user__username")


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


@dataclass(frozen=True)
class AuditPage:
    """One page of audit entries, newest first, with the ids that open its neighbours."""

    entries: list[AuditEntry]
    newer_cursor: int | None  # ``after=`` this id: the page of newer entries
    older_cursor: int | None  # ``before=`` this id: the page of older entries


def audit_page(
    entries: QuerySet[AuditEntry], *, before: int | None, after: int | None, size: int
) -> AuditPage:
    """Keyset paging on id (``entries`` newest first): the ``size`` entries just newer than
    ``after``, else just older than ``before``, else the newest; no count, no offset scan."""
    if after is not None:
        rows = list(entries.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer, has_older = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        if before is not None:
            entries = entries.filter(id__lt=before)
        rows = list(entries[: size + 1])
        has_newer, has_older = before is not None, len(rows) > size
        rows = rows[:size]
    return AuditPage(
        entries=rows,
        newer_cursor=rows[0].pk if rows and has_newer else None,
        older_cursor=rows[-1].pk if rows and has_older else None,
    )


def audited_target_types() -> list[str]:
    """Every model name an audit entry can point at: the models of the project's own apps,
    whichever layer they are in (no query; for the filter's choices)."""
    root = Path(settings.BASE_DIR).resolve()
    return sorted(
        model._meta.model_name or ""
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
        for model in config.get_models()
        if model is not AuditEntry
    )


def audited_target_choices() -> list[tuple[str, str]]:
    """The audit filter's Target choices: (model name, a name a reader knows: "Connector
    profile", not "connectorprofile"), by that name."""
    root = Path(settings.BASE_DIR).resolve()
    choices = {
        (model._meta.model_name or "", capfirst(str(model._meta.verbose_name)))
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
        for model in config.get_models()
        if model is not AuditEntry
    }
    return sorted(choices, key=lambda choice: choice[1])


OVERVIEW_CHANGES = (
    "connector_version.published",
    "connector_version.overwritten",
    "profile.pin_changed",
    "profile.pin_removed",
)


def recent_changes(project: Project, *, limit: int = 8) -> list[AuditEntry]:
    """The overview's recent publishes and pin changes, newest first (one query)."""
    return list(
        AuditEntry.objects.filter(project=project, action__in=OVERVIEW_CHANGES).order_by("-id")[
            :limit
        ]
    )
