"""The service catalogue's use cases, one part per concern, put together by `CatalogueService`:

- `items` — item standards (事项标准), national admin only;
- `lists` — versioned lists (通办清单) and their state machine;
- `variants` — provinces' local variants and their differences from the national standard;
- `resolution` — what can be handled where, in which modes, on a date;
- `receipt` — the receipt standard (收件标准) and application form checks;
- `search`, `faq` — Chinese search, 智能客服 and the FAQ knowledge base;
- `places` — GB/T 2260 division codes.

Reads need no sign-in. Every change is made by an admin inside their division scope (see
`rules.py`), in one transaction with its audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue.faq import FaqService
from backend.catalogue.items import ItemService
from backend.catalogue.lists import ListService
from backend.catalogue.loader import DATA_DIR, CatalogueLoader
from backend.catalogue.places import Places, sync_divisions
from backend.catalogue.receipt import ReceiptService
from backend.catalogue.resolution import ResolutionService
from backend.catalogue.search import SearchService
from backend.catalogue.terms import ApplicationTerms, TermsCache
from backend.catalogue.variants import VariantService
from backend.db import Database
from backend.identity.divisions import DIVISIONS_FILE, DivisionTable


class CatalogueService:
    def __init__(self, db: Database, audit: AuditLog, divisions: DivisionTable | None = None) -> None:
        self.db = db
        self.places = Places(divisions)
        self.terms = TermsCache()
        changed = self.terms.changed
        self.items = ItemService(db, audit, changed)
        self.lists = ListService(db, audit, self.places, changed)
        self.variants = VariantService(db, audit, self.places, changed)
        self.resolution = ResolutionService(db, self.places)
        self.receipt = ReceiptService(db, self.places)
        self.search = SearchService(db)
        self.faq = FaqService(db, audit)
        self.loader = CatalogueLoader(db, audit, self.lists, changed)

    # What the rest of the system calls: start-up, the demo data, and the cases domain.

    async def sync_reference_data(self, path: Path = DIVISIONS_FILE) -> bool:
        """Load the GB/T 2260 table into `divisions` when the file changed; True when it loaded."""
        return await sync_divisions(self.db, path)

    async def load_catalogue(
        self, actor: Actor, data_dir: Path = DATA_DIR, progress: Callable[[str], None] = print
    ) -> dict[str, int]:
        """Load the catalogue files (items, lists, variants, FAQ); loading twice changes nothing."""
        return await self.loader.load(actor, data_dir, progress)

    async def application_terms(self, item_code: str, receiving_division: str, handling_division: str,
                                as_of: dt.date) -> ApplicationTerms:
        """What an application for the item at `receiving_division`, decided at `handling_division`, is
        checked against on `as_of`: the item as resolution offers it there (None when it is on no list in
        force, and then no standard either) and its receipt standard. Kept in memory (see `terms.py`)."""

        async def load() -> ApplicationTerms:
            resolution = await self.resolution.resolve(handling_division, receiving_division, as_of)
            item = next((i for i in resolution.items if i.code == item_code), None)
            if item is None:
                return ApplicationTerms(None, None)
            return ApplicationTerms(item, await self.receipt.standard(item_code, receiving_division,
                                                                      handling_division, as_of))

        return await self.terms.get((item_code, receiving_division, handling_division, as_of), load)

    async def form_schema(
        self, item_code: str, *, handling_division: str | None = None, as_of: dt.date | None = None,
    ) -> dict[str, Any]:
        """The item's form schema for a case decided in `handling_division` (its province's local variant in
        force, else the national one), for other domains to show and check with `forms.checked_form`."""
        schema, _ = await self.receipt.form_schema(item_code, handling_division, as_of)
        return schema
