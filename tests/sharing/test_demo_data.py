"""The gateway's demo providers register and load their rows on top of the demo people, once."""

from backend.demo import load_demo_identity
from backend.sharing.demo import load_demo_sharing

TABLES = ("data_providers", "demo_providers.social_insurance", "demo_providers.housing_fund",
          "demo_providers.household_registration", "demo_providers.driving_licence")


async def test_demo_providers_load_once_and_answer(client, services):
    quiet = lambda _: None  # noqa: E731
    await load_demo_identity(services, quiet)
    await load_demo_sharing(services, quiet)
    before = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]

    await load_demo_sharing(services, quiet)

    assert [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES] == before
    assert before == [4, 2, 1, 3, 1]
    providers = (await client.get("/data-sharing/providers")).json()
    assert all(p["registered"] for p in providers) and all(p["sample"] for p in providers)
