"""The kiosk's printer: the interface a real printer's driver implements, and the development printer
that writes each page to a file and can run out of paper."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal, Protocol

Outcome = Literal["printed", "out-of-paper", "paper-jam", "printer-offline", "failed"]


class Printer(Protocol):
    def print_page(self, job_id: str, page_png: bytes, copies: int) -> Outcome:
        """Print `copies` of the page; say what happened. Printing a job id already printed must not
        print again (the report of the first print may have been lost): answer `printed`."""

    def status(self) -> tuple[str, int | None]:
        """(`ok` | `out-of-paper` | `paper-jam` | `offline` | `absent`, sheets left if known), for the heartbeat."""


class FilePrinter:
    """Writes `<folder>/<job id>.png` (one file per job, whatever the copies) and counts sheets."""

    def __init__(self, folder: Path, sheets: int = 100) -> None:
        self.folder, self.sheets = folder, sheets
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def load_paper(self, sheets: int) -> None:
        with self._lock:
            self.sheets = sheets

    def printed(self) -> list[Path]:
        return sorted(self.folder.glob("*.png"))

    def print_page(self, job_id: str, page_png: bytes, copies: int) -> Outcome:
        target = self.folder / f"{job_id}.png"
        with self._lock:
            if target.exists():
                return "printed"
            if self.sheets < copies:
                return "out-of-paper"
            partial = target.with_suffix(".part")
            partial.write_bytes(page_png)
            partial.rename(target)
            self.sheets -= copies
            return "printed"

    def status(self) -> tuple[str, int | None]:
        with self._lock:
            return ("ok" if self.sheets > 0 else "out-of-paper"), self.sheets
