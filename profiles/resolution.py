"""Resolution: which version a profile uses now (docs/concepts.md "Profiles, pins and resolution").

Computed on every use, through the shared cache; one query on a miss, whatever the number of
versions. Candidates are the published built-in versions and the project's published custom
versions; pre-releases only for an exact pin; drafts never. Custom precedence: the highest
matching custom version wins over any built-in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q, QuerySet

from connectors.cache import versions_generation, versions_generations
from connectors.models import PLATFORM_OWNER, ConnectorVersion, ConnectorVersionQuerySet
from core import freshness
from core.metrics import RESOLUTION_CACHE
from projects.models import Project

from .pins import Pin, PinKind

CACHE_TIMEOUT = 24 * 3600
_FROM_PROCESS = RESOLUTION_CACHE.labels("process")
_FROM_SHARED = RESOLUTION_CACHE.labels("shared")
_FROM_DATABASE = RESOLUTION_CACHE.labels("database")
_NOTHING = "∅"  # cached "matches nothing" (distinct from a miss)


@dataclass(frozen=True)
class Resolved:
    id: int
    version: str
    builtin: bool
    owner: str
    version_key: bytes


def candidates(project: Project, connector_id: int) -> ConnectorVersionQuerySet:
    return ConnectorVersion.objects.filter(
        connector_id=connector_id, published_at__isnull=False
    ).filter(Q(project__isnull=True) | Q(project=project))


def _filtered(project: Project, connector_id: int, pin: Pin) -> QuerySet[ConnectorVersion]:
    """The candidates the pin accepts (both owners), unordered."""
    versions = candidates(project, connector_id)
    if pin.kind is not PinKind.EXACT:
        versions = versions.filter(is_prerelease=False)
    if pin.kind is PinKind.MAJOR and pin.major is not None:
        versions = versions.filter(major=pin.major)
    elif pin.kind is PinKind.MINOR and pin.major is not None and pin.minor is not None:
        versions = versions.filter(major=pin.major, minor=pin.minor)
    elif pin.kind is PinKind.EXACT:
        versions = versions.filter(version=pin.version)
    return versions


def resolve_uncached(project: Project, connector_id: int, pin: Pin) -> Resolved | None:
    """At most two indexed queries: the highest matching custom version (custom precedence),
    else the highest matching built-in one. Each walks the (connector, project, -version_key)
    index from the top, so the cost does not grow with the number of versions."""
    versions = _filtered(project, connector_id, pin)
    owners: list[Project | None]
    if pin.kind is PinKind.LATEST_BUILTIN:
        owners = [None]
    elif pin.kind is PinKind.LATEST_CUSTOM:
        owners = [project]
    else:
        owners = [project, None]
    for owner in owners:
        mine = versions.filter(project=owner) if owner else versions.filter(project__isnull=True)
        for pk, version, key in mine.order_by("-version_key").values_list(
            "pk", "version", "version_key"
        )[:1]:
            builtin = owner is None
            return Resolved(
                pk, version, builtin, PLATFORM_OWNER if builtin else project.slug, bytes(key)
            )
    return None


def _cache_key(project_id: int, connector_id: int, pin: Pin, generation: int) -> str:
    return f"resolution:{connector_id}:{generation}:{project_id}:{pin.text or ''}"


def _local_key(project_id: int, connector_id: int, pin: Pin) -> str:
    return f"resolution:{connector_id}:{project_id}:{pin.text or ''}"


def resolve(project: Project, connector_id: int, pin: Pin) -> Resolved | None:
    """The per-process layer (valid for this request's epoch, core.freshness), then the
    shared cache under the connector's generation, then the database."""
    local_key = _local_key(project.pk, connector_id, pin)
    local = freshness.local_get(local_key)
    if local is not freshness.MISS:
        _FROM_PROCESS.inc()
        return None if local == _NOTHING else local
    key = _cache_key(project.pk, connector_id, pin, versions_generation(connector_id))
    cached = cache.get(key)
    if cached is not None:
        _FROM_SHARED.inc()
        freshness.local_set(local_key, cached)
        return None if cached == _NOTHING else cached
    _FROM_DATABASE.inc()
    resolved = resolve_uncached(project, connector_id, pin)
    value = resolved if resolved is not None else _NOTHING
    cache.set(key, value, CACHE_TIMEOUT)
    freshness.local_set(local_key, value)
    return resolved


def pin_accepts(pin: Pin, version: ConnectorVersion, project: Project) -> bool:
    """Whether ``version`` (published or about to be) is a candidate the pin accepts."""
    builtin = version.project_id is None
    if not builtin and version.project_id != project.pk:
        return False
    if version.is_prerelease and pin.kind is not PinKind.EXACT:
        return False
    match pin.kind:
        case PinKind.LATEST_BUILTIN:
            return builtin
        case PinKind.LATEST_CUSTOM:
            return not builtin
        case PinKind.MAJOR:
            return version.major == pin.major
        case PinKind.MINOR:
            return (version.major, version.minor) == (pin.major, pin.minor)
        case PinKind.EXACT:
            return version.version == pin.version
    return True


def beats(version: ConnectorVersion, current: Resolved | None) -> bool:
    """Custom precedence, then semver: would ``version`` win over the current resolution?"""
    if current is None:
        return True
    mine = (version.project_id is not None, bytes(version.version_key))
    theirs = (not current.builtin, current.version_key)
    return mine > theirs


def published_numbers(project: Project, connector_id: int) -> list[str]:
    return list(
        candidates(project, connector_id)
        .order_by("-version_key")
        .values_list("version", flat=True)[:30]
    )


def describe(versions: Iterable[str]) -> str:
    listed = ", ".join(versions)
    return listed or "none"


def resolve_many(
    project: Project, wanted: Iterable[tuple[int, Pin]]
) -> dict[tuple[int, str | None], Resolved | None]:
    """Resolve many (connector id, pin) pairs at once: two cache round trips, and on misses
    one query for all the missing connectors' candidates, resolved with the same rules."""
    pairs = {(connector_id, pin.text): pin for connector_id, pin in wanted}
    result: dict[tuple[int, str | None], Resolved | None] = {}
    remote = {}
    for pair, pin in pairs.items():
        local = freshness.local_get(_local_key(project.pk, pair[0], pin))
        if local is freshness.MISS:
            remote[pair] = pin
        else:
            result[pair] = None if local == _NOTHING else local
    if result:
        _FROM_PROCESS.inc(len(result))
    if not remote:
        return result
    generations = versions_generations({c for c, _ in remote})
    keys = {
        pair: _cache_key(project.pk, pair[0], pin, generations[pair[0]])
        for pair, pin in remote.items()
    }
    cached = cache.get_many(list(keys.values()))
    missing = []
    for pair, key in keys.items():
        if key in cached:
            result[pair] = None if cached[key] == _NOTHING else cached[key]
            freshness.local_set(_local_key(project.pk, pair[0], pairs[pair]), cached[key])
        else:
            missing.append(pair)
    if len(missing) < len(keys):
        _FROM_SHARED.inc(len(keys) - len(missing))
    if missing:
        _FROM_DATABASE.inc(len(missing))
    if missing:
        rows = list(
            ConnectorVersion.objects.filter(
                connector_id__in={c for c, _ in missing}, published_at__isnull=False
            )
            .filter(Q(project__isnull=True) | Q(project=project))
            .custom_first("-version_key")
            .only(
                "pk",
                "connector_id",
                "project_id",
                "version",
                "version_key",
                "major",
                "minor",
                "is_prerelease",
            )
        )
        fresh = {}
        for pair in missing:
            pin = pairs[pair]
            best = next(
                (v for v in rows if v.connector_id == pair[0] and pin_accepts(pin, v, project)),
                None,
            )
            resolved = (
                Resolved(
                    best.pk,
                    best.version,
                    best.project_id is None,
                    PLATFORM_OWNER if best.project_id is None else project.slug,
                    bytes(best.version_key),
                )
                if best
                else None
            )
            result[pair] = resolved
            fresh[keys[pair]] = resolved if resolved is not None else _NOTHING
            freshness.local_set(_local_key(project.pk, pair[0], pin), fresh[keys[pair]])
        cache.set_many(fresh, CACHE_TIMEOUT)
    return result
