"""Files and folders that are never a case file arriving: editor locks, temp files, OS litter.

Office writes ``~$name.docx`` owner files and ``~WRL0001.tmp`` temporaries, LibreOffice
``.~lock.name.odt#``; browsers download to ``.crdownload`` / ``.part`` and rename when done (the
rename is what we judge). macOS leaves ``.DS_Store`` and ``._name`` AppleDouble files on FAT
sticks; Windows ``Thumbs.db`` and ``desktop.ini``.
"""

from __future__ import annotations

import os

IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".localized"})
IGNORED_SUFFIXES = (".tmp", ".temp", ".crdownload", ".part", ".partial", ".swp")
IGNORED_PREFIXES = ("~$", "._")
# Folders holding file-system or indexer metadata, never user documents.
IGNORED_DIR_NAMES = frozenset(
    {".spotlight-v100", ".fseventsd", ".temporaryitems", "system volume information", ".dropbox.cache"}
)


def is_ignored_name(name: str) -> bool:
    """True for lock, temp and OS-metadata file names."""
    lowered = name.lower()
    if lowered in IGNORED_NAMES or lowered.endswith(IGNORED_SUFFIXES) or lowered.startswith(IGNORED_PREFIXES):
        return True
    return lowered.startswith(".~lock") and lowered.endswith("#")


def is_ignored_dir(name: str) -> bool:
    """True for metadata folders whose contents are never judged."""
    return name.lower() in IGNORED_DIR_NAMES


def is_ignored_path(path: str, root: str) -> bool:
    """True when ``path`` (under ``root``) has an ignored name or lies in an ignored folder."""
    relative = path[len(root) :].lstrip(os.sep) if path.startswith(root) else path
    parts = relative.split(os.sep)
    return is_ignored_name(parts[-1]) or any(is_ignored_dir(part) for part in parts[:-1])
