"""Bounded walks of a destination: the one-off scan of a newly mounted volume, and rescans.

Walks never follow symbolic links (a link on a stick must not lead the scan into the laptop),
skip ignored names and metadata folders, and stop at a bound, saying so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from agent.egress.ignore_rules import is_ignored_dir, is_ignored_name
from agent.egress.model import Destination

logger = logging.getLogger(__name__)

DEFAULT_SCAN_LIMIT = 20_000


def walk_files(root: str, *, excluded: tuple[str, ...] = ()) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``root`` with their ``lstat``, depth first, unreadable folders skipped."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                children = list(entries)
        except OSError:
            continue
        for entry in children:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not is_ignored_dir(entry.name) and entry.path not in excluded:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and not is_ignored_name(entry.name):
                    yield entry.path, entry.stat(follow_symlinks=False)
            except OSError:
                continue


class VolumeScan:
    """An iterable over the files of a destination, stopping after ``limit`` files.

    After iteration, ``files_scanned`` says how many were yielded and ``truncated`` whether the
    bound cut the scan short (more files may be there).
    """

    def __init__(self, destination: Destination, *, limit: int = DEFAULT_SCAN_LIMIT) -> None:
        self.destination = destination
        self.limit = limit
        self.files_scanned = 0
        self.truncated = False

    def __iter__(self) -> Iterator[Path]:
        self.files_scanned, self.truncated = 0, False
        excluded = tuple(os.fspath(p) for p in self.destination.excluded)
        for path, _ in walk_files(os.fspath(self.destination.path), excluded=excluded):
            if self.files_scanned >= self.limit:
                self.truncated = True
                break
            self.files_scanned += 1
            yield Path(path)
        logger.info(
            "scan of %s: %d files%s",
            self.destination.destination_class,
            self.files_scanned,
            " (truncated)" if self.truncated else "",
        )


def scan_once(destination: Destination, *, limit: int = DEFAULT_SCAN_LIMIT) -> VolumeScan:
    """The files on ``destination`` (a newly mounted volume), at most ``limit`` of them."""
    return VolumeScan(destination, limit=limit)
