"""Walk one request through the layers: which of the project's modules its code runs in, and
which calls between them go down (the return comes back up) or up (a lower app calling into a
higher one at run time: a signal, a registered panel, a callback).

``walk(entry, run)`` profiles ``run()`` (sys.setprofile) and records, from the first call of a
function named ``entry`` in the project until it returns, every call whose caller and callee
are in different project modules (tests, site-packages and Django are left out: a call through
a library, such as a signal's ``send``, counts from the project module that made it to the
project module it reached). Two kinds of call are no flow between modules and are left out: a
generator expression run where it is consumed, and a protocol method (``__str__``, ``__eq__``...)
of an object handed down. A module's layer is its top package's place in the layers of
``pyproject.toml`` (the interfaces share one).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SKIP = ("tests", ".venv", ".tools")


def _layers() -> dict[str, int]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    order = list(reversed(contract["layers"]))  # bottom first
    return {name.strip(): rank for rank, layer in enumerate(order) for name in layer.split("|")}


def module_of(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_absolute() or not path.is_relative_to(ROOT):
        return None
    relative = path.relative_to(ROOT)
    if relative.parts[0] in SKIP or relative.suffix != ".py":
        return None
    return ".".join(relative.with_suffix("").parts).removesuffix(".__init__")


@dataclass
class Walk:
    modules: list[str] = field(default_factory=list)  # in the order first reached
    down: set[tuple[str, str]] = field(default_factory=set)  # the callee's return goes up
    across: set[tuple[str, str]] = field(default_factory=set)  # same layer, another module
    up: set[tuple[str, str]] = field(default_factory=set)  # a lower layer calls a higher one

    def summary(self) -> str:
        return (
            f"{len(self.modules)} modules, {len(self.down)} calls down (returns upward), "
            f"{len(self.across)} across, {len(self.up)} calls up"
        )


def walk(entry: str, run: Callable[[], Any]) -> tuple[Walk, Any]:
    layers = _layers()
    found = Walk()
    state: dict[str, Any] = {"entry": None}

    def layer(module: str) -> int:
        return layers.get(module.split(".")[0], -1)

    def caller_module(frame: FrameType) -> str | None:
        back = frame.f_back
        while back is not None:
            module = module_of(back.f_code.co_filename)
            if module is not None:
                return module
            back = back.f_back
        return None

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "return" and frame is state["entry"]:
            state["entry"] = None
            return
        if event != "call":
            return
        module = module_of(frame.f_code.co_filename)
        name = frame.f_code.co_name
        if module is None or name == "<genexpr>" or (name.startswith("__") and name != "__init__"):
            return
        if state["entry"] is None:
            if name == entry and not found.modules:
                state["entry"] = frame
                found.modules.append(module)
            return
        if module not in found.modules:
            found.modules.append(module)
        caller = caller_module(frame)
        if caller is None or caller == module:
            return
        pair = (caller, module)
        if layer(module) < layer(caller):
            found.down.add(pair)
        elif layer(module) > layer(caller):
            found.up.add(pair)
        else:
            found.across.add(pair)

    sys.setprofile(profile)
    try:
        result = run()
    finally:
        sys.setprofile(None)
    assert found.modules, f"{entry} was never called"
    return found, result
