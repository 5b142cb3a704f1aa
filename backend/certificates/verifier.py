"""Offline verification of a certificate's QR text: a plain function of the text, a trust list, an
optional revocation list and a time. No database, no network — a township kiosk, a bank's app or
another province's system can run it as it is.

Order of checks (the first failure is the answer): length and prefix, Base45, bounded zlib, COSE
envelope and protected header (algorithm, kid), the trust list's freshness, lookup by kid, the
signature — tried with every key sharing the kid — and only then the claims: issuer, a type the key
may sign, key in service at the issue time, revocation (and the revocation list's freshness),
validity period.
"""

from __future__ import annotations

import datetime as dt
import time

from cryptography.exceptions import InvalidSignature

from backend.certificates.certificate_types import CERTIFICATE_TYPES
from backend.certificates.qr_format import Claims, QrRefused, SignedMessage, open_message, read_claims
from backend.certificates.schemas import HolderView, Verification, VerifiedCertificate, VerifiedIssuer
from backend.certificates.trust_lists import RevocationList, TrustedKey, TrustList

# Clocks of offline devices drift; a certificate signed moments ago must not look "not yet valid".
CLOCK_SKEW_SECONDS = 300
# How long past its `next_update` a list still vouches (with a warning) for a verifier that could not
# refresh it — a kiosk offline over a long weekend. After that it vouches for nothing: an old list may
# still trust a key withdrawn since, or miss a revocation.
LIST_GRACE_SECONDS = 72 * 3600


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _certificate(claims: Claims) -> VerifiedCertificate:
    cert = claims.certificate
    kind = CERTIFICATE_TYPES.get(cert.certificate_type)
    return VerifiedCertificate(
        number=cert.number, certificate_type=cert.certificate_type, type_name=kind.name if kind else None,
        holder=HolderView(cert.holder.kind, cert.holder.name, cert.holder.identifier), fields=dict(cert.fields),
        issued_at=_utc(claims.issued_at), valid_from=_utc(claims.not_before or claims.issued_at),
        expires_at=_utc(claims.expires_at))


def _issuer(key: TrustedKey) -> VerifiedIssuer:
    return VerifiedIssuer(key.jwk.issuer, key.jwk.issuer_name, key.jwk.division, key.jwk.kid)


def _seconds(at: dt.datetime | float | None) -> float:
    return at.timestamp() if isinstance(at, dt.datetime) else (time.time() if at is None else at)


def unreadable(refusal: QrRefused, at: dt.datetime | float | None = None) -> Verification:
    """The answer for a text `open_message` refused: nothing in it was trusted, so nothing is shown."""
    return Verification(valid=False, reason=refusal.reason, detail=refusal.detail, checked_at=_utc(int(_seconds(at))))


def verify_qr(text: str, trust: TrustList, revocations: RevocationList | None = None,
              at: dt.datetime | float | None = None, *, list_grace_seconds: int = LIST_GRACE_SECONDS) -> Verification:
    """Verify `text` at time `at` (default now) against `trust` and, if given, `revocations`.

    A list is used up to `list_grace_seconds` past its `next_update` (with a warning), not after.
    """
    try:
        message = open_message(text)
    except QrRefused as exc:
        return unreadable(exc, at)
    return verify_message(message, trust, revocations, at, list_grace_seconds=list_grace_seconds)


def verify_message(message: SignedMessage, trust: TrustList, revocations: RevocationList | None = None,
                   at: dt.datetime | float | None = None, *,
                   list_grace_seconds: int = LIST_GRACE_SECONDS) -> Verification:
    """`verify_qr` from the point where the text has been read into a COSE_Sign1 message."""
    now = _seconds(at)
    checked_at = _utc(int(now))
    warnings = []
    if now > trust.document.next_update:
        warnings.append("trust-list-outdated")

    def refused(reason: str, detail: str, key: TrustedKey | None = None, claims: Claims | None = None,
                revocation: str = "unchecked") -> Verification:
        return Verification(valid=False, reason=reason, detail=detail, checked_at=checked_at,  # type: ignore[arg-type]
                            issuer=_issuer(key) if key else None,
                            certificate=_certificate(claims) if claims else None,
                            revocation=revocation, warnings=warnings)  # type: ignore[arg-type]

    if now > trust.document.next_update + list_grace_seconds:
        expired_at = _utc(trust.document.next_update).isoformat()
        return refused("trust-list-expired", f"the trust list expired at {expired_at} and can no longer vouch "
                       "for any key; refresh it")
    # A province's case-exchange key signs hand-over records, never a certificate.
    candidates = [key for key in trust.candidates(message.kid) if key.jwk.purpose == "certificate"]
    if not candidates:
        return refused("unknown-issuer", "no key in the trust list has this kid")
    signed = message.to_be_signed()
    key = None
    for candidate in candidates:
        try:
            candidate.public_key.verify(message.signature, signed)
        except InvalidSignature:
            continue
        key = candidate
        break
    if key is None:
        return refused("bad-signature", "the signature does not verify with any trusted key of this kid")
    try:
        claims = read_claims(message.payload)
    except QrRefused as exc:
        return refused(exc.reason, exc.detail, key)
    if claims.issuer != key.jwk.issuer:
        return refused("unknown-issuer", f"signed with a key of {key.jwk.issuer} but names issuer {claims.issuer}",
                       key)
    jwk = key.jwk
    if claims.certificate.certificate_type not in jwk.certificate_types:
        return refused("unknown-issuer", f"{jwk.issuer} is not listed as an issuer of "
                       f"{claims.certificate.certificate_type}", key)
    if claims.issued_at < jwk.valid_from - CLOCK_SKEW_SECONDS or (
            jwk.signing_until is not None and claims.issued_at > jwk.signing_until + CLOCK_SKEW_SECONDS):
        return refused("unknown-issuer", "the key was not in service at the certificate's issue time", key)

    revocation = "unchecked"
    if revocations is not None:
        revocation = "not-revoked"
        if now > revocations.document.next_update:
            revocation = "list-outdated"
            warnings.append("revocation-list-outdated")
            if now > revocations.document.next_update + list_grace_seconds:
                return refused("revocation-list-expired", "the revocation list expired at "
                               f"{_utc(revocations.document.next_update).isoformat()}; refresh it", key, claims,
                               revocation)
        entry = revocations.by_number.get(claims.certificate.number)
        if entry is not None and entry.issuer == claims.issuer:
            return refused("revoked", f"revoked ({entry.reason}) at {_utc(entry.revoked_at).isoformat()}",
                           key, claims, "revoked")
    starts = claims.not_before if claims.not_before is not None else claims.issued_at
    if now < starts - CLOCK_SKEW_SECONDS:
        return refused("not-yet-valid", f"valid from {_utc(starts).isoformat()}", key, claims, revocation)
    if now >= claims.expires_at:
        return refused("expired", f"expired at {_utc(claims.expires_at).isoformat()}", key, claims, revocation)
    return Verification(valid=True, detail="the certificate is authentic and valid", checked_at=checked_at,
                        issuer=_issuer(key), certificate=_certificate(claims), revocation=revocation,  # type: ignore[arg-type]
                        warnings=warnings)
