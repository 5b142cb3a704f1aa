import asyncpg
import pytest

from backend.migrate import MigrationError, apply_migrations, discover


async def test_rerunning_migrations_is_a_no_op(database_url):
    assert await apply_migrations(database_url) == []
    conn = await asyncpg.connect(database_url)
    versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
    await conn.close()
    assert versions == [m.version for m in discover()]


async def test_a_migration_edited_after_it_was_applied_is_refused(database_url, tmp_path):
    for migration in discover():
        (tmp_path / f"{migration.version:03d}_{migration.name}.sql").write_text(migration.sql + "\n-- edited")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(database_url, directory=tmp_path)


async def test_a_new_migration_is_applied_once(database_url, tmp_path):
    for migration in discover():
        (tmp_path / f"{migration.version:03d}_{migration.name}.sql").write_text(migration.sql)
    (tmp_path / "900_extra.sql").write_text("CREATE TABLE extra_table (id int);")

    first = await apply_migrations(database_url, directory=tmp_path)
    second = await apply_migrations(database_url, directory=tmp_path)

    assert [m.version for m in first] == [900] and second == []
