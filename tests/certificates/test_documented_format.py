"""docs/certificate-format.md is exact: its worked example is regenerated here byte for byte, and a
certificate issued by the service is taken apart with plain `base45`, `zlib`, `cbor2` and
`cryptography` calls, following the document step by step and nothing else."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from pathlib import Path

import base45
import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.certificates import qr_format as qr
from tests.factories import certificate_authority, citizen_id, issue_certificate, register_citizen

DOC = Path(__file__).resolve().parents[2] / "docs" / "certificate-format.md"


def worked_example() -> dict[str, str]:
    """The document's worked example, from its published (and therefore worthless) private key."""
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tongban worked example key").digest())
    kid = qr.key_id(key.public_key())
    claims = qr.Claims(
        issuer="330100-ga", issued_at=1767225600, expires_at=1798761600,
        certificate=qr.CertificateClaim(
            version=1, number="330100-ga-2026-00000001", certificate_type="residence_permit",
            holder=qr.HolderClaim("citizen", "王建国", "5101**********0010"),
            fields={"residence_division": "330106", "residence_address": "杭州市西湖区文三路90号",
                    "registered_on": "2025-09-01"}))
    protected = qr.protected_header(kid)
    payload = claims.to_cbor()
    to_be_signed = qr.sig_structure(protected, payload)
    signature = key.sign(to_be_signed)
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    public = key.public_key()
    return {
        "private key (hex)": key.private_bytes_raw().hex(),
        "public key x (base64url)": base64.urlsafe_b64encode(public.public_bytes_raw()).rstrip(b"=").decode(),
        "SPKI DER (hex)": public.public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).hex(),
        "kid (hex)": kid.hex(),
        "kid (base64url)": base64.urlsafe_b64encode(kid).rstrip(b"=").decode(),
        "protected header (hex)": protected.hex(),
        "CWT claims (hex)": payload.hex(),
        "Sig_structure (hex)": to_be_signed.hex(),
        "signature (hex)": signature.hex(),
        "COSE_Sign1 (hex)": message.hex(),
        "QR text": qr.PREFIX + base45.b45encode(zlib.compress(message, 9)).decode(),
    }


def documented(name: str) -> str:
    """The value the document gives under `name`: a fenced block after a `**name**` line, its lines
    joined (hex is wrapped for reading; the QR text, whose alphabet includes the space, is one line)."""
    match = re.search(re.escape(f"**{name}**") + r"\s*```\w*\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, f"{name} is missing from {DOC.name}"
    return "".join(match[1].splitlines())


def test_the_worked_example_in_the_document_is_exact():
    example = worked_example()
    for name, value in example.items():
        if name != "QR text":
            assert documented(name) == value, name
    # zlib output may differ between zlib builds; what must hold is that the documented text decodes to
    # exactly the documented COSE_Sign1 message.
    text = documented("QR text")
    assert zlib.decompress(base45.b45decode(text[4:])).hex() == example["COSE_Sign1 (hex)"]


def verify_as_the_document_says(text: str, jwks: dict) -> dict:
    """Steps 1–7 of the document, with nothing from Tongban's code."""
    assert text.startswith("TB1:")                                               # 1. prefix
    compressed = base45.b45decode(text[4:])                                     # 2. Base45
    inflater = zlib.decompressobj()                                             # 3. bounded zlib
    message = inflater.decompress(compressed, 16384)
    assert inflater.eof and not inflater.unconsumed_tail
    tag = cbor2.loads(message)                                                  # 4. COSE_Sign1
    assert tag.tag == 18
    protected, _unprotected, payload, signature = tag.value
    header = cbor2.loads(protected)
    assert header[1] == -8                                                      # 5. alg EdDSA
    kid = base64.urlsafe_b64encode(header[4]).rstrip(b"=").decode()
    candidates = [k for k in jwks["keys"] if k["kid"] == kid]                    # 6. every key with the kid
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    for jwk in candidates:
        public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
        public.verify(signature, to_be_signed)  # raises InvalidSignature when wrong
        break
    else:
        raise AssertionError("unknown kid")
    claims = cbor2.loads(payload)                                               # 7. claims, after the signature
    assert claims[1] == jwk["issuer"]
    return claims


def test_the_example_verifies_with_plain_library_calls():
    example = worked_example()
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": example["public key x (base64url)"],
                      "kid": example["kid (base64url)"], "issuer": "330100-ga"}]}

    claims = verify_as_the_document_says(documented("QR text"), jwks)

    assert claims[-65537]["h"]["n"] == "王建国" and claims[6] == 1767225600


async def test_an_issued_certificate_decodes_as_documented(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services, name="王建国")
    certificate = await issue_certificate(services, await citizen_id(client, citizen["access_token"]))
    qr_text = (await client.get(f"/me/certificates/{certificate.id}/qr",
                                headers={"Authorization": f"Bearer {citizen['access_token']}"})).json()["qr_text"]
    jws = (await client.get("/.well-known/tongban/trust-list")).text
    jwks = json.loads(base64.urlsafe_b64decode(jws.split(".")[1] + "=="))

    claims = verify_as_the_document_says(qr_text, jwks)

    assert set(claims) == {1, 4, 6, -65537}
    assert claims[-65537] == {"v": 1, "no": certificate.number, "t": "residence_permit",
                              "h": {"k": "citizen", "n": "王建国", "id": certificate.holder.identifier},
                              "f": certificate.fields}
    assert claims[4] == int(certificate.expires_at.timestamp())
