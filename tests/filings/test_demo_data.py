"""The demo filings load on top of the demo people, and loading them twice changes nothing."""

from __future__ import annotations

from backend.demo import load_demo_identity
from backend.filings.demo import load_demo_filings

TABLES = ("organisations", "organisation_representatives", "filing_obligations", "filings", "audit_log")


async def test_demo_filings_show_each_status_and_load_once(services):
    quiet = lambda _: None  # noqa: E731
    await load_demo_identity(services, quiet)
    await load_demo_filings(services, quiet)
    before = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]

    await load_demo_filings(services, quiet)

    after = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]
    assert after == before
    assert before[:4] == [1, 2, 3, 2]
    states = [r["state"] for r in await services.db.pool.fetch("SELECT state FROM filings ORDER BY created_at")]
    assert states == ["submitted", "draft"]
