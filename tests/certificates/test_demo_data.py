"""Demo data: authorities in three provinces with keys, certificates for the demo people; loading it
twice changes nothing, and every demo certificate verifies against the published trust list."""

from __future__ import annotations

import msgspec

from backend.certificates.trust_lists import anchors_from_jwks, read_trust_list
from backend.certificates.verifier import verify_qr
from backend.demo import load_demo_data


async def test_demo_certificates_load_once_and_verify_across_provinces(services):
    await load_demo_data(services, progress=lambda _: None)
    counts = await services.db.pool.fetchrow(
        "SELECT (SELECT count(*) FROM certificates) AS certificates, (SELECT count(*) FROM certificate_keys) AS keys")
    await load_demo_data(services, progress=lambda _: None)

    again = await services.db.pool.fetchrow(
        "SELECT (SELECT count(*) FROM certificates) AS certificates, (SELECT count(*) FROM certificate_keys) AS keys")
    assert again == counts and counts["certificates"] >= 5
    anchors = anchors_from_jwks(msgspec.json.encode(await services.certificates.lists.trust_anchors()))
    trust = read_trust_list(await services.certificates.lists.signed_trust_list(), anchors)
    provinces = set()
    for row in await services.db.pool.fetch("SELECT qr_text, holder_kind FROM certificates"):
        result = verify_qr(row["qr_text"], trust)
        assert result.valid, result.detail
        provinces.add(result.issuer.division_code[:2])
    assert provinces == {"11", "33", "51"}
