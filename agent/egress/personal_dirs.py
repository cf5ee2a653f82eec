"""Personal destinations: cloud-sync roots from the clients' own configuration, plus configured folders.

Discovery asks each client module in :mod:`agent.egress.clouds` where it syncs, adds the
``[egress] personal_dirs`` from configuration, then decides once for all of them:

* a root that does not exist is dropped (logged as a count);
* a root equal to or inside an ``approved_dirs`` entry is not personal (e.g. the organisation's
  OneDrive for Business root approved by IT); an approved folder *inside* a root becomes one of
  that destination's ``excluded`` folders;
* duplicates (the same real path from two sources) are reported once.

Known folders (Desktop, Documents) redirected into a personal cloud are reported in
``PersonalDiscovery.redirected``; when the cloud root they point into was not otherwise found
(an iCloud Desktop whose root is missing from the usual place), that root is added.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agent.egress.clouds import (
    BUSINESS_KINDS,
    KIND_CONFIGURED,
    KIND_ICLOUD,
    CloudRoot,
    DiscoveryContext,
    cloud_storage,
    dropbox,
    google_drive,
    icloud,
    known_folders,
    onedrive,
    sync_roots,
)
from agent.egress.model import (
    DESTINATION_CLASS_PERSONAL_CLOUD,
    DESTINATION_CLASS_PERSONAL_FOLDER,
    Destination,
    destination_for_path,
    is_within,
)
from agent.registry import RegistryReader

logger = logging.getLogger(__name__)

Finder = Callable[[DiscoveryContext], list[CloudRoot]]

# Order matters only for duplicates: the first source to name a path gives its kind.
CLOUD_FINDERS: tuple[tuple[str, Finder], ...] = (
    ("onedrive", onedrive.find),
    ("dropbox", dropbox.find),
    ("google_drive", google_drive.find),
    ("icloud", icloud.find),
    ("cloud_storage", cloud_storage.find),
    ("sync_roots", sync_roots.find),
)


@dataclass(frozen=True)
class RedirectedFolder:
    """A known folder (e.g. ``Desktop``) whose real location is inside a personal destination."""

    name: str
    destination: Destination


@dataclass(frozen=True)
class PersonalDiscovery:
    """The personal destinations found, and which known folders are redirected into them."""

    destinations: tuple[Destination, ...]
    redirected: tuple[RedirectedFolder, ...]


def discover_personal_destinations(
    *,
    personal_dirs: Sequence[Path] = (),
    approved_dirs: Sequence[Path] = (),
    platform: str = sys.platform,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: RegistryReader | None = None,
    include_business: bool = True,
) -> list[Destination]:
    """The personal destinations on this machine; see :func:`discover_personal`."""
    return list(
        discover_personal(
            personal_dirs=personal_dirs,
            approved_dirs=approved_dirs,
            platform=platform,
            home=home,
            env=env,
            registry=registry,
            include_business=include_business,
        ).destinations
    )


def discover_personal(
    *,
    personal_dirs: Sequence[Path] = (),
    approved_dirs: Sequence[Path] = (),
    platform: str = sys.platform,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    registry: RegistryReader | None = None,
    include_business: bool = True,
    finders: Sequence[tuple[str, Finder]] = CLOUD_FINDERS,
    user_sid: str | None = None,
) -> PersonalDiscovery:
    """Find personal cloud roots and configured personal folders.

    ``registry`` defaults to the real registry on Windows; ``include_business=False`` leaves out
    organisation accounts (OneDrive Business, Dropbox Business) altogether instead of relying on
    ``approved_dirs`` to exempt the organisation's own. ``user_sid`` (Windows) limits the
    machine-wide sync-root list to that person's roots.
    """
    if registry is None and platform == "win32":
        registry = _default_registry()
    ctx = DiscoveryContext(
        platform=platform,
        home=home if home is not None else Path.home(),
        env=env if env is not None else os.environ,
        registry=registry,
        user_sid=user_sid,
    )
    candidates: list[Destination] = []
    for name, finder in finders:
        try:
            roots = finder(ctx)
        except (OSError, ValueError) as exc:
            logger.warning("personal dirs: %s discovery failed (%s)", name, type(exc).__name__)
            continue
        candidates.extend(
            Destination(root.path, DESTINATION_CLASS_PERSONAL_CLOUD, root.kind)
            for root in roots
            if include_business or root.kind not in BUSINESS_KINDS
        )
    candidates.extend(
        Destination(expand_home(p, ctx.home), DESTINATION_CLASS_PERSONAL_FOLDER, KIND_CONFIGURED) for p in personal_dirs
    )

    approved = [_real(expand_home(p, ctx.home)) for p in approved_dirs]
    destinations = _settle(candidates, approved)

    redirected: list[RedirectedFolder] = []
    for folder_name, location in known_folders.find(ctx):
        containing = destination_for_path(destinations, location)
        if containing is None:
            root = icloud.root_of(location)
            if root is None or any(is_within(os.fspath(location), os.fspath(a)) for a in approved):
                continue
            extra = _settle([Destination(root, DESTINATION_CLASS_PERSONAL_CLOUD, KIND_ICLOUD)], approved)
            destinations.extend(extra)
            containing = destination_for_path(destinations, location)
            if containing is None:
                continue
        redirected.append(RedirectedFolder(folder_name, containing))

    logger.info(
        "personal dirs: %d destinations (%s), %d known folders redirected into them",
        len(destinations),
        ", ".join(sorted({d.kind for d in destinations})) or "none",
        len(redirected),
    )
    return PersonalDiscovery(tuple(destinations), tuple(redirected))


def _settle(candidates: Iterable[Destination], approved: Sequence[Path]) -> list[Destination]:
    """Resolve, drop missing, approved and duplicate roots; attach approved folders inside roots."""
    settled: list[Destination] = []
    seen: set[str] = set()
    missing = exempt = 0
    for candidate in candidates:
        real = _real(candidate.path)
        key = os.path.normcase(os.fspath(real))
        if key in seen:
            continue
        if not real.is_dir():
            missing += 1
            continue
        if any(is_within(os.fspath(real), os.fspath(a)) for a in approved):
            exempt += 1
            continue
        inside = tuple(a for a in approved if a != real and is_within(os.fspath(a), os.fspath(real)))
        seen.add(key)
        settled.append(replace(candidate, path=real, excluded=inside))
    if missing or exempt:
        logger.debug("personal dirs: %d candidates missing, %d approved", missing, exempt)
    return settled


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def expand_home(path: Path | str, home: Path) -> Path:
    """``~`` and ``~/x`` in configured folders mean the watched user's home, not the agent's."""
    text = os.fspath(path)
    if text == "~" or text.startswith(("~/", "~\\")):
        return home / text[2:] if len(text) > 1 else home
    return Path(text)


def _default_registry() -> RegistryReader | None:
    from agent.registry import WinRegistryReader

    try:
        return WinRegistryReader()
    except OSError:
        return None
