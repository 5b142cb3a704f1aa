"""Catalogue search on 10,000 items: p50/p99 of realistic Chinese queries, against a primary-key
lookup and `SELECT 1` measured in the same run on the same pool.

    python bench/catalogue_search.py [--items N] [--rounds R]

It loads the SAMPLE catalogue plus N generated items (topic × action × province names, with aliases
and a skewed frequency) into a scratch database, then times, sequentially on one connection:
`CatalogueService.search` (query reading in Python + item and FAQ queries), the item query alone,
`CatalogueService.ask`, and for comparison a pg_trgm `LIKE '%q%'` over names (no aliases, no ranking).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import scratch_database, servers  # noqa: E402

TOPICS = [
    ("养老保险", ["社保", "养老"]), ("医疗保险", ["医保"]), ("失业保险", ["失业金"]), ("工伤保险", ["工伤"]),
    ("生育保险", ["生育险"]), ("住房公积金", ["公积金"]), ("社会保障卡", ["社保卡"]), ("机动车驾驶证", ["驾照"]),
    ("机动车行驶证", ["行驶证"]), ("居民身份证", ["身份证"]), ("居住证", ["暂住证"]), ("营业执照", ["执照"]),
    ("户口", ["户籍"]), ("婚姻登记", ["结婚证"]), ("出生医学证明", ["出生证"]), ("教师资格", ["教资"]),
    ("医师执业", ["医生执业"]), ("护士执业", ["护士证"]), ("人事档案", ["档案"]), ("中小学生学籍", ["学籍"]),
    ("个人所得税", ["个税"]), ("不动产登记", ["房产证"]), ("道路运输从业资格", ["从业资格证"]),
    ("船员适任证书", ["海员证"]), ("普通护照", ["护照"]), ("往来港澳通行证", ["港澳通行证"]),
    ("食品经营许可", ["食品许可证"]), ("药品经营许可", ["药品许可证"]), ("建筑施工许可", ["施工许可证"]),
    ("排污许可", ["排污证"]), ("社会团体登记", ["社团登记"]), ("残疾人证", ["残疾证"]),
    ("老年人优待证", ["老年证"]), ("退役军人优待证", ["优待证"]), ("法律援助", ["法援"]), ("公证", ["公证书"]),
    ("律师执业", ["律师证"]), ("会计专业技术资格", ["会计证"]), ("导游证", ["导游资格"]),
    ("渔业船舶登记", ["渔船登记"]), ("种子生产经营许可", ["种子许可证"]), ("兽药经营许可", ["兽药许可证"]),
    ("农药登记", ["农药证"]), ("特种设备使用登记", ["特种设备证"]), ("城乡居民基本养老保险", ["居保", "新农保"]),
    ("最低生活保障", ["低保"]), ("特困人员救助供养", ["特困供养"]), ("临时救助", ["救助"]),
    ("职业技能等级证书", ["技能证书"]), ("就业创业证", ["就业证"]), ("高等教育学历证书", ["学历证书"]),
    ("无犯罪记录证明", ["良民证"]), ("献血证", ["无偿献血证"]), ("计划生育", ["生育登记"]),
    ("企业年度报告", ["企业年报"]), ("个体工商户", ["个体户"]), ("税务登记", ["报税"]), ("发票领用", ["领发票"]),
    ("出入境证件", ["出入境"]), ("车辆年检", ["年检"]),
]
ACTIONS = [
    ("申领", ["办理"]), ("补领", ["补办"]), ("换领", ["换证"]), ("变更登记", ["变更"]), ("注销登记", ["注销"]),
    ("转移接续", ["转移"]), ("查询打印", ["查询"]), ("信息变更", ["改信息"]), ("年度报告", ["年报"]),
    ("审验", ["年审"]), ("资格认定", ["认定"]), ("备案", ["登记备案"]), ("证明开具", ["开证明"]), ("延续", ["续期"]),
    ("核验", ["验证"]), ("提取", ["取出"]), ("缴存", ["缴纳"]), ("撤销", ["取消"]), ("迁移", ["迁出迁入"]),
    ("待遇申领", ["领取待遇"]), ("资格认证", ["认证"]), ("异地办理", ["外地办理"]), ("首次登记", ["初次登记"]),
    ("遗失补发", ["丢失补发"]), ("到期换发", ["过期换证"]),
]
PLACES = ["", "省级", "市级", "跨省", "异地", "长三角", "川渝", "京津冀", "粤港澳"]
QUERIES = ["退休", "社保", "社会保险", "社保卡补办", "公积金提取", "驾照", "异地就医备案", "身份证", "税",
           "养老保险关系转移", "营业执照", "结婚登记", "出生证", "医保转移", "企业年报", "无犯罪记录证明",
           "养老保险关系转移办理", "量子纠缠"]
QUESTIONS = ["人在外地，社保卡丢了怎么办？", "驾照年审需要每年去车管所吗", "在外地住院没备案能报销吗"]


def generated_standards(count: int, templates: list, rng: random.Random) -> list:
    """`count` items cloned from the sample standards, with generated names, aliases and codes."""
    import msgspec

    combos = [(p, t, a) for p in PLACES for t in TOPICS for a in ACTIONS]
    rng.shuffle(combos)
    departments = ["RS", "YB", "GJ", "GA", "SJ", "SW", "MZ", "WJ", "JY", "NY", "JT"]
    standards = []
    for n, (place, (topic, topic_aliases), (action, action_aliases)) in enumerate(combos[:count]):
        template = templates[n % len(templates)]
        type_code = template.code[3:5]
        code = f"{departments[n % len(departments)]}-{type_code}-{100 + n // 100:03d}-{n % 100:02d}"
        aliases = [f"{t}{a}" for t in topic_aliases for a in action_aliases][:3]
        standards.append(msgspec.structs.replace(
            template, code=code, name=f"{place}{topic}{action}", aliases=aliases,
            frequency=min(100, int(rng.paretovariate(1.2) * 8))))
    return standards


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(label: str, call, rounds: int) -> tuple[str, list[float]]:  # noqa: ANN001
    for _ in range(3):
        await call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return label, samples


async def run(database_url: str, redis_url: str, items: int, rounds: int) -> None:
    from backend.actors import Actor
    from backend.catalogue import repository
    from backend.catalogue.items import item_columns
    from backend.catalogue.schemas import ItemStandard
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations

    await apply_migrations(database_url)
    services = await Services.start(load_settings({}, database_url=database_url, redis_url=redis_url,
                                                  redis_prefix="bench-catalogue:", log_level="WARNING"))
    catalogue = services.catalogue
    try:
        await catalogue.load_catalogue(Actor.system(), progress=lambda _: None)
        async with services.db.connection() as conn:
            rows = await conn.fetch("SELECT standard FROM catalogue_items ORDER BY code")
        import msgspec

        templates = [msgspec.convert(r["standard"], ItemStandard) for r in rows]
        standards = generated_standards(items, templates, random.Random(2260))
        started = time.perf_counter()
        async with services.db.transaction() as conn:
            await repository.insert_items(conn, [(s.code, True, item_columns(s)) for s in standards])
        load_seconds = time.perf_counter() - started
        async with services.db.connection() as conn:
            await conn.execute("ANALYZE catalogue_items")
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            await conn.execute("CREATE INDEX IF NOT EXISTS bench_items_trgm ON catalogue_items "
                               "USING gin (name gin_trgm_ops)")
            total = await conn.fetchval("SELECT count(*) FROM catalogue_items")
            ctype = await conn.fetchval("SELECT datctype FROM pg_database WHERE datname = current_database()")
            version = await conn.fetchval("SHOW server_version")

            from backend.catalogue.bigrams import read_query

            async def item_query(q: str) -> None:
                query = read_query(q)
                await repository.search_items(conn, query.strict(), query.strict("A"), query.strict("AB"),
                                              query.exact_forms, 20)

            async def trigram(q: str) -> None:
                await conn.fetch("SELECT code FROM catalogue_items WHERE name LIKE '%' || $1 || '%' "
                                 "ORDER BY frequency DESC LIMIT 20", q)

        per_query = []
        search_samples: list[float] = []
        for q in QUERIES:
            label, samples = await timed(f"search `{q}`", lambda q=q: catalogue.search.find(q), rounds)
            found = await catalogue.search.find(q)
            per_query.append((label, samples, len(found.items), found.relaxed))
            search_samples += samples
        async with services.db.connection() as conn:
            item_samples: list[float] = []
            trigram_samples: list[float] = []
            for q in QUERIES:
                item_samples += (await timed("", lambda q=q: item_query(q), rounds))[1]
                trigram_samples += (await timed("", lambda q=q: trigram(q), rounds))[1]
            # Baselines last, when the connection and caches are as warm as for the searches.
            results = [
                await timed("SELECT 1 (baseline)", lambda: conn.fetchval("SELECT 1"), rounds * 10),
                await timed("primary-key lookup of one item (baseline)", lambda: conn.fetchrow(
                    "SELECT code, name, standard FROM catalogue_items WHERE code = $1", "RS-20-001-00"), rounds * 10),
            ]
        ask_samples: list[float] = []
        for q in QUESTIONS:
            ask_samples += (await timed("", lambda q=q: catalogue.search.ask(q), rounds))[1]
    finally:
        await services.close()

    baseline = statistics.median(results[1][1])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {version} (ctype {ctype}); {total} items ({items} generated, loaded in {load_seconds:.1f} s); "
          f"{rounds} timed runs per query after 3 warm-ups, one at a time on one connection")
    print()
    print("| what | runs | p50 ms | p99 ms | p50 vs PK lookup |")
    print("|---|---:|---:|---:|---:|")
    rows_out = [*results, ("search: all queries (service call, items + FAQ)", search_samples),
                ("item query alone (SQL, all queries)", item_samples),
                ("ask: questions (service call)", ask_samples),
                ("pg_trgm `name LIKE '%q%'` (comparison: no aliases, no ranking)", trigram_samples)]
    for label, samples in rows_out:
        print(f"| {label} | {len(samples)} | {statistics.median(samples):.2f} | {percentile(samples, 0.99):.2f} | "
              f"{statistics.median(samples) / baseline:.1f}× |")
    print()
    print("| query | p50 ms | p99 ms | items found | read loosely |")
    print("|---|---:|---:|---:|---|")
    for label, samples, found, relaxed in per_query:
        print(f"| {label} | {statistics.median(samples):.2f} | {percentile(samples, 0.99):.2f} | {found} | "
              f"{'yes' if relaxed else ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    with servers() as (admin_url, redis_url):
        database_url = asyncio.run(scratch_database(admin_url, "tongban_bench_catalogue"))
        asyncio.run(run(database_url, redis_url, args.items, args.rounds))


if __name__ == "__main__":
    main()
