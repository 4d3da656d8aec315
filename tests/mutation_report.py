"""`make mutation`'s summary: the mutation score of each core module and its surviving mutants.

Reads mutmut's results (``mutmut results --all true``, ``mutmut show``) in the project root
after ``mutmut run``. Survivors listed in EQUIVALENT below (matched by function and by the
changed lines, not by number, so they stay matched when a function gains a line) behave
exactly like the original and are left out of the score. Exits 1 when a module scores below
``--min`` percent, so a regression in the tests shows up as a failed target.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

MUTMUT = str(Path(sys.executable).with_name("mutmut"))
MODULES = (
    "profiles.pins",
    "profiles.resolution",
    "connectors.versioning",
    "connectors.changes",
)
DETECTED = {"killed", "timeout", "caught by type check"}


@dataclass(frozen=True)
class Equivalent:
    function: str  # e.g. "profiles.resolution.x_resolve_uncached"
    removed: str  # the original line(s), stripped, joined by " | "
    added: str  # the mutated line(s), likewise ("" when the mutant only removes)
    why: str


_BIG_DEFAULT = "int.to_bytes's byteorder defaults to 'big' (Python 3.11+)"
_SORT_KEY = (
    "siblings in a diff are all keys or all indexes (a value is a list or a mapping, not "
    "both) and keys are text, so the order of the entries is the same"
)
_NO_IDENTITY = (
    "a list without an identity: _keyed(items, None) looks up item.get(None), never text in a "
    "definition (the loader and JSON allow only text keys), so it returns None as before"
)
_MINOR_ONLY = "parse_pin sets minor (and major with it) only on minor-line pins"
EQUIVALENT: tuple[Equivalent, ...] = (
    # profiles.resolution
    Equivalent(
        "profiles.resolution.x__cache_key",
        "return f\"resolution:{connector_id}:{generation}:{project_id}:{pin.text or ''}\"",
        "return f\"resolution:{connector_id}:{generation}:{project_id}:{pin.text or 'XXXX'}\"",
        "no valid pin's text is XXXX, so the default pin's key stays its own",
    ),
    Equivalent(
        "profiles.resolution.x__filtered",
        "elif pin.kind is PinKind.MINOR and pin.major is not None and pin.minor is not None:",
        "elif pin.kind is PinKind.MINOR and pin.major is not None or pin.minor is not None:",
        _MINOR_ONLY,
    ),
    Equivalent(
        "profiles.resolution.x__filtered",
        "elif pin.kind is PinKind.MINOR and pin.major is not None and pin.minor is not None:",
        "elif pin.kind is PinKind.MINOR or pin.major is not None and pin.minor is not None:",
        _MINOR_ONLY,
    ),
    Equivalent(
        "profiles.resolution.x_resolve_uncached",
        "mine = versions.filter(project=owner) if owner else versions.filter(project__isnull=True)",
        "mine = versions.filter(project=owner) if (owner) or True else "
        "versions.filter(project__isnull=True)",
        "filter(project=None) is the same IS NULL query",
    ),
    Equivalent(
        "profiles.resolution.x_resolve_uncached",
        ")[:1]:",
        ")[:2]:",
        "the loop returns on the first row",
    ),
    Equivalent(
        "profiles.resolution.x_resolve_many",
        '"pk",',
        "",
        "Django loads the primary key whether .only() names it or not",
    ),
    Equivalent(
        "profiles.resolution.x_resolve_many",
        "connector_id__in={c for c, _ in missing}, published_at__isnull=False",
        "published_at__isnull=False",
        "same answers: other connectors' rows are skipped by the connector_id check in Python "
        "(the query reads more rows, still one query)",
    ),
    # connectors.versioning
    Equivalent(
        "connectors.versioning.x_parse_version",
        'for identifier in (version.prerelease or "").split("."):',
        'for identifier in (version.prerelease or "XXXX").split("."):',
        "a release then checks the identifier XXXX, which is not numeric",
    ),
    Equivalent(
        "connectors.versioning.x_version_key",
        'key = b"".join(n.to_bytes(8, "big") for n in (version.major, version.minor, '
        "version.patch))",
        'key = b"".join(n.to_bytes(8, ) for n in (version.major, version.minor, version.patch))',
        _BIG_DEFAULT,
    ),
    Equivalent(
        "connectors.versioning.x_version_key",
        'key += b"\\x01" + len(identifier).to_bytes(1, "big") + identifier.encode()',
        'key += b"\\x01" + len(identifier).to_bytes(1, ) + identifier.encode()',
        _BIG_DEFAULT,
    ),
    Equivalent(
        "connectors.versioning.x_version_key",
        'key += b"\\x02" + identifier.encode("ascii")',
        'key += b"\\x02" + identifier.encode("ASCII")',
        "codec names are case-insensitive",
    ),
    # connectors.changes
    *(
        Equivalent(
            "connectors.changes.x__explained",
            '("authentication", "scopes"),',
            added,
            "the keys[:2] == (authentication, scopes) test below explains the same entries",
        )
        for added in (
            '("XXauthenticationXX", "scopes"),',
            '("AUTHENTICATION", "scopes"),',
            '("authentication", "XXscopesXX"),',
            '("authentication", "SCOPES"),',
        )
    ),
    Equivalent(
        "connectors.changes.x__diff",
        "old_keyed = _keyed(old, identity) if identity else None",
        "old_keyed = _keyed(old, identity) if (identity) or True else None",
        _NO_IDENTITY,
    ),
    Equivalent(
        "connectors.changes.x__diff",
        "new_keyed = _keyed(new, identity) if identity else None",
        "new_keyed = _keyed(new, identity) if (identity) or True else None",
        _NO_IDENTITY,
    ),
    Equivalent(
        "connectors.changes.x__diff",
        'elif identity != "=" or segment_kind == "index":',
        'elif identity != "XX=XX" or segment_kind == "index":',
        "a scope keyed by itself is compared with the same text: no entry",
    ),
    Equivalent(
        "connectors.changes.x__keyed",
        "ident = item if isinstance(item, str) else None",
        "ident = item if (isinstance(item, str)) or True else None",
        "a scope that is not text fails the isinstance check next, as None does",
    ),
    *(
        Equivalent(
            "connectors.changes.x__sort_key",
            'return tuple((0, value) if kind == "index" else (1, str(value)) '
            "for kind, value in path)",
            added,
            _SORT_KEY,
        )
        for added in (
            'return tuple((0, value) if (kind == "index") or True else (1, str(value)) '
            "for kind, value in path)",
            'return tuple((1, value) if kind == "index" else (1, str(value)) '
            "for kind, value in path)",
            'return tuple((0, value) if kind == "index" else (2, str(value)) '
            "for kind, value in path)",
        )
    ),
    Equivalent(
        "connectors.changes.xǁChangeReportǁfrom_json",
        "level=cast(ReportLevel, level),",
        "level=cast(None, level),",
        "typing.cast does nothing at run time",
    ),
    *(
        Equivalent(
            "connectors.changes.xǁChangeReportǁfrom_json",
            'reauth_required=bool(data.get("reauth_required", False)),',
            added,
            "a missing flag is None then, false like False",
        )
        for added in (
            'reauth_required=bool(data.get("reauth_required", None)),',
            'reauth_required=bool(data.get("reauth_required", )),',
        )
    ),
)


def _run(*args: str) -> str:
    return subprocess.run([MUTMUT, *args], check=True, capture_output=True, text=True).stdout


def _changed_lines(diff: str) -> tuple[str, str]:
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+")]
    removed = [line for line in removed if not line.startswith("--")]
    added = [line for line in added if not line.startswith("++")]
    return " | ".join(removed), " | ".join(added)


def _function(name: str) -> str:
    return name.rsplit("__mutmut_", 1)[0]


def _module(name: str) -> str:
    return next((m for m in MODULES if name.startswith(m + ".")), name.rsplit(".", 1)[0])


def equivalent_reason(name: str, diff: str) -> str | None:
    removed, added = _changed_lines(diff)
    for known in EQUIVALENT:
        if (known.function, known.removed, known.added) == (_function(name), removed, added):
            return known.why
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min", type=float, default=95.0, help="lowest acceptable score, %%")
    args = parser.parse_args()

    statuses: dict[str, str] = {}
    for line in _run("results", "--all", "true").splitlines():
        if match := re.fullmatch(r"\s*(\S+): (.+)", line):
            statuses[match[1]] = match[2].strip()
    if not statuses:
        print("No mutmut results: run `mutmut run` first.", file=sys.stderr)
        return 1

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    equivalents: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, status in sorted(statuses.items()):
        module = _module(name)
        if status in DETECTED:
            counts[module]["detected"] += 1
            continue
        diff = _run("show", name)
        reason = equivalent_reason(name, diff)
        if reason is not None:
            counts[module]["equivalent"] += 1
            equivalents[module].append((name, reason))
        else:
            counts[module]["undetected"] += 1
            removed, added = _changed_lines(diff)
            survivors[module].append((f"{name} ({status})", removed, added))

    failed = False
    print()
    print(f"{'module':<24}{'killed':>8}{'total':>8}{'score':>9}{'equiv.':>8}{'score*':>9}")
    for module in sorted(counts, key=lambda m: MODULES.index(m) if m in MODULES else 99):
        c = counts[module]
        total = c["detected"] + c["undetected"] + c["equivalent"]
        raw = 100 * c["detected"] / total
        scored = c["detected"] + c["undetected"]
        score = 100 * c["detected"] / scored if scored else 100.0
        failed |= score < args.min
        print(
            f"{module:<24}{c['detected']:>8}{total:>8}{raw:>8.1f}%{c['equivalent']:>8}{score:>8.1f}%"
        )
    print(f"(score*: equivalent mutants left out; minimum {args.min:g}%)")

    for module, surviving in survivors.items():
        print(f"\nSurviving mutants of {module}:")
        for name, removed, added in surviving:
            print(f"  {name}\n    - {removed}\n    + {added}")
    for module, known in equivalents.items():
        print(f"\nEquivalent mutants of {module} (not scored):")
        for name, why in known:
            print(f"  {name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
