"""The demo information changes load on top of the demo people, once."""

from backend.demo import load_demo_identity
from backend.information.demo import load_demo_information


async def test_demo_information_loads_once(services):
    quiet = lambda _: None  # noqa: E731
    await load_demo_identity(services, quiet)
    await load_demo_information(services, quiet)
    await load_demo_information(services, quiet)

    kinds = [r["kind"] for r in await services.db.pool.fetch(
        "SELECT kind FROM citizen_information_changes ORDER BY changed_at")]
    assert kinds == ["address", "emergency_contact", "bank_account"]
    assert await services.db.pool.fetchval("SELECT count(*) FROM event_outbox") == 3
