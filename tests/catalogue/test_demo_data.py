"""The SAMPLE catalogue loads from its files, idempotently, from the command line too."""

import asyncio
import subprocess
import sys

from backend.actors import Actor
from tests.catalogue.conftest import empty_database


async def test_loading_twice_changes_nothing(services):
    tables = ("catalogue_items", "catalogue_list_versions", "catalogue_list_entries", "catalogue_variants",
              "catalogue_faq", "catalogue_faq_items", "audit_log")
    before = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables]

    counts = await services.catalogue.load_catalogue(Actor.system(), progress=lambda _: None)

    after = [await services.db.pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables]
    assert set(counts.values()) == {0}
    assert after == before
    assert before[:5] == [57, 5, 34 + 22 + 3 + 5 + 5, 2, 48]


async def test_the_loaded_history_matches_the_files(client):
    yrd = (await client.get("/catalogue/lists/yrd")).json()

    assert [(v["version"], v["state"], v["effective_date"], v["effective_until"]) for v in yrd["versions"]] == [
        (1, "superseded", "2021-06-01", "2023-07-01"), (2, "published", "2023-07-01", None)]
    assert yrd["sample"] is True


async def test_the_cli_loads_demo_data_with_progress_and_twice_is_a_no_op(server_urls):
    admin_url, redis_url = server_urls
    command = [sys.executable, "-m", "backend.cli", "demo-data"]
    async with empty_database(admin_url, "tongban_cli_demo_catalogue") as url:
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "PATH": "", "TONGBAN_REDIS_PREFIX": "cli-demo:"}
        first = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
        second = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)

    assert first.returncode == 0, first.stderr
    assert "demo data: catalogue (sample data)" in first.stderr
    assert "catalogue: 57 new of 57 items" in first.stderr and "catalogue: 5 new of 5 list versions" in first.stderr
    assert second.returncode == 0, second.stderr
    assert "catalogue: 0 new of 57 items" in second.stderr and "catalogue: 0 new of 48 FAQ entries" in second.stderr
