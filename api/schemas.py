from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from projects.models import Project


class ProjectOut(Schema):
    id: int
    slug: str
    name: str
    organization: str
    immutable_versioning: bool
    created_at: datetime

    @classmethod
    def from_project(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.pk,
            slug=project.slug,
            name=project.name,
            organization=project.organization.slug,
            immutable_versioning=project.immutable_versioning,
            created_at=project.created_at,
        )


class MessageOut(Schema):
    text: str
    severity: str
    detail: list[str] = []


class PushOut(Schema):
    key: str
    version: str
    owner: str
    builtin: bool
    draft: bool
    published_at: datetime | None
    change_level: str
    messages: list[MessageOut]


class ConnectorOut(Schema):
    key: str
    title: str
    description: str
    icon: str | None
    latest_builtin: str | None
    latest_custom: str | None


class VersionItemOut(Schema):
    id: int
    name: str
    description: str
    builtin: bool
    owner: str
    isLatest: bool
    isDefault: bool
    createdAt: datetime
    updatedAt: datetime
    publishedAt: datetime | None
    messages: list[MessageOut]


class VersionPageOut(Schema):
    items: list[VersionItemOut]
    totalCount: int
    next: str | None
    prev: str | None


class VersionDetailOut(VersionItemOut):
    key: str
    draft: bool
    change_level: str
    reauth_required: bool
    change_report: dict[str, Any]
    definition: dict[str, Any]
