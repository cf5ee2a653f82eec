"""What the person at the laptop is told when a case file lands where it must not (pure logic).

The system agent judges the file; the session component, inside the person's desktop session,
shows the notice. One notice per copy burst: copying a folder of fifty case files to a stick
says so once. The words come from the policy; the file is never named.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from agent.egress.model import DESTINATION_CLASS_REMOVABLE_VOLUME

TITLE = "Case file saved where it must not be"
REMEMBERED_BURSTS = 256


class NoticeWords(Protocol):
    """The settings the notice comes from (``agent.config.EgressSettings`` has them)."""

    @property
    def notify_user(self) -> bool: ...
    @property
    def notice_removable(self) -> str: ...
    @property
    def notice_personal(self) -> str: ...


def notice_text(destination_class: str, settings: NoticeWords) -> str | None:
    """The words for a case file arriving at ``destination_class``; None when staff are not told."""
    if not settings.notify_user:
        return None
    if destination_class == DESTINATION_CLASS_REMOVABLE_VOLUME:
        return settings.notice_removable
    return settings.notice_personal


class BurstNotices:
    """Says yes to the first case file of each copy burst, no to the rest (bounded memory)."""

    def __init__(self, remembered: int = REMEMBERED_BURSTS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    def first(self, burst_id: str) -> bool:
        """True the first time ``burst_id`` is seen (an empty id is always new)."""
        if not burst_id:
            return True
        if burst_id in self._seen:
            self._seen.move_to_end(burst_id)
            return False
        self._seen[burst_id] = None
        while len(self._seen) > self._remembered:
            self._seen.popitem(last=False)
        return True
