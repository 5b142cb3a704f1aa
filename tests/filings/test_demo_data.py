"""The demo data of issue #12 — filings, information changes, the gateway's providers — loads on top of
the demo people, shows each feature (a citizen's own query, a shared request, a preview awaiting the
citizen), and loading it twice changes nothing. (One test for the three: the
demo people are costly to make.)"""

from __future__ import annotations

from backend.demo import load_demo_identity
from backend.filings.demo import load_demo_filings
from backend.information.demo import load_demo_information
from backend.sharing.demo import load_demo_sharing

TABLES = ("organisations", "organisation_representatives", "filing_obligations", "filings",
          "citizen_information_changes", "event_outbox", "data_providers", "demo_providers.social_insurance",
          "demo_providers.housing_fund", "demo_providers.household_registration", "demo_providers.driving_licence",
          "data_sharing_consents", "data_requests", "audit_log")


async def load(services) -> None:
    quiet = lambda _: None  # noqa: E731
    await load_demo_filings(services, quiet)
    await load_demo_information(services, quiet)
    await load_demo_sharing(services, quiet)


async def test_the_demo_shows_each_part_and_loads_once(client, services):
    await load_demo_identity(services, lambda _: None)
    await load(services)
    before = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]

    await load(services)

    after = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]
    assert after == before
    assert before[:-1] == [1, 2, 3, 2, 3, 4, 4, 2, 1, 3, 1, 1, 3]  # events: 3 changes, 1 filing
    states = [r["state"] for r in await services.db.pool.fetch("SELECT state FROM filings ORDER BY created_at")]
    assert states == ["submitted", "draft"]
    kinds = [r["kind"] for r in await services.db.pool.fetch(
        "SELECT kind FROM citizen_information_changes ORDER BY changed_at")]
    assert kinds == ["address", "emergency_contact", "bank_account"]
    requests = [(r["requester_kind"], r["purpose"], r["state"]) for r in await services.db.pool.fetch(
        "SELECT requester_kind, purpose, state FROM data_requests ORDER BY created_at")]
    assert requests == [("citizen", "self-query", "answered"), ("staff", "case-handling", "shared"),
                        ("staff", "housing-fund-business", "awaiting-citizen")]
    providers = (await client.get("/data-sharing/providers")).json()
    assert all(p["registered"] and p["sample"] for p in providers)
