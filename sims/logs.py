"""The logs family on the simulated gun: ``get_shot_log`` answered from the shot log kept in NVM.

Read-only: a page changes nothing on the device, in any state (the rules allow it everywhere). The page is
checked here for the ``out_of_range`` condition the rules list: ``count`` 1..:data:`SHOT_LOG_PAGE_MAX`,
``from_index`` not past the newest shot. A ``from_index`` older than the log window is answered from the
oldest shot held (the reply's ``oldest_index`` tells the host what was overwritten).
"""

from __future__ import annotations

from dataclasses import asdict

from firmware_protocol import Message, NakCode
from firmware_protocol.catalog import SHOT_LOG_PAGE_MAX
from sims.core import DeviceCore
from sims.dispatch import CommandHandler, Reply


class ShotLogReader:
    """The ``get_shot_log`` handler over the device's NVM shot log."""

    def __init__(self, core: DeviceCore) -> None:
        self._core = core

    def registry(self) -> dict[str, CommandHandler]:
        """Message name → handler: the logs family's commands."""
        return {"get_shot_log": CommandHandler(self._page, {NakCode.OUT_OF_RANGE: self._check_page})}

    def _check_page(self, message: Message) -> str | None:
        """Why the page asked for is refused, or ``None``."""
        count, from_index = int(message["count"]), int(message["from_index"])
        if count < 1:
            return "count=0 below min 1 shot"
        if count > SHOT_LOG_PAGE_MAX:
            return f"count={count} above max {SHOT_LOG_PAGE_MAX} shots per page"
        log = self._core.nvm.shot_log
        if log.after_newest(from_index):
            newest = f"the newest shot {log.newest_index}" if len(log) else "the newest shot 0 (the log is empty)"
            return f"from_index={from_index} past {newest}"
        return None

    def _page(self, message: Message) -> Reply:
        log = self._core.nvm.shot_log
        entries = [asdict(shot) for shot in log.page(int(message["from_index"]), int(message["count"]))]
        return "shot_log", {"oldest_index": log.oldest_index, "newest_index": log.newest_index, "entries": entries}
