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


EQUIVALENT: tuple[Equivalent, ...] = ()


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
