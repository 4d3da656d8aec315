from __future__ import annotations

from datetime import datetime

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
