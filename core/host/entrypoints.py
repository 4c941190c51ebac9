"""Find installed plugins without importing importlib.metadata.

``importlib.metadata`` costs about 35 ms to import and scans every
distribution's metadata on each call; a pre-commit hook pays that on every
commit. Entry points live in plain-text ``entry_points.txt`` files inside the
``*.dist-info`` (or ``*.egg-info``) folders on ``sys.path``, so we read just
those files, for just our group. The result is the same as
``importlib.metadata.entry_points(group=...)`` for directory entries of
``sys.path`` (a test keeps the two in agreement); zipped eggs are not scanned.
"""

from __future__ import annotations

import os
import re
import sys

from ..records import record


@record(frozen=True, slots=True)
class EntryPoint:
    name: str
    value: str
    group: str
    dist_name: str
    dist_version: str

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str | None:
        attr = self.value.partition(":")[2].strip()
        return attr.split("[")[0].strip() or None

    def load(self):
        import importlib

        obj = importlib.import_module(self.module)
        if self.attr:
            for part in self.attr.split("."):
                obj = getattr(obj, part)
        return obj


_DIST_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+?)(?:-py[^-]*)?\.(?:dist|egg)-info$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_points(group: str, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of ``group`` from every distribution on ``path`` (default ``sys.path``).

    The first distribution of a given name on the path wins, as in
    ``importlib.metadata``.
    """
    seen: set[str] = set()
    found: list[EntryPoint] = []
    header = f"[{group}]"
    for entry in path if path is not None else sys.path:
        directory = entry or "."
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for folder in names:
            if not (folder.endswith(".dist-info") or folder.endswith(".egg-info")):
                continue
            match = _DIST_RE.match(folder)
            if not match:
                continue
            dist = _normalize(match.group("name"))
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(directory, folder, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            if header not in text:
                continue
            found.extend(_parse(text, group, match.group("name"), match.group("version")))
    return found


def _parse(text: str, group: str, dist: str, version: str) -> list[EntryPoint]:
    out: list[EntryPoint] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group and "=" in line:
            name, _, value = line.partition("=")
            out.append(EntryPoint(name.strip(), value.strip(), group, dist, version))
    return out
