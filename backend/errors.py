"""Domain errors. Each type maps once, in the HTTP layer, to an RFC 9457 problem.

The `slug` is the stable part of the problem `type` URI; clients may switch on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field: a JSON pointer into the request and what is wrong with it."""

    pointer: str
    detail: str


class DomainError(Exception):
    """Base of every expected failure of a use case."""

    slug = "domain-error"
    title = "The request cannot be carried out"
    status = 400

    def __init__(self, detail: str | None = None, **extensions: object) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions


class ValidationFailed(DomainError):
    slug = "validation-error"
    title = "The request has invalid fields"
    status = 422

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.pointer}: {e.detail}" for e in errors))
        self.errors = errors

    @classmethod
    def field(cls, name: str, detail: str) -> ValidationFailed:
        """One invalid top-level field."""
        return cls([FieldError(pointer=f"#/{name}", detail=detail)])


class NotFound(DomainError):
    slug = "not-found"
    title = "Not found"
    status = 404


class Conflict(DomainError):
    slug = "conflict"
    title = "The request conflicts with the current state"
    status = 409


class Unauthenticated(DomainError):
    slug = "unauthenticated"
    title = "Sign-in required"
    status = 401


class Forbidden(DomainError):
    slug = "forbidden"
    title = "Not allowed"
    status = 403


class OutsideDivision(Forbidden):
    slug = "outside-division"
    title = "The record belongs to a division outside your scope"


class StepUpRequired(Forbidden):
    slug = "step-up-required"
    title = "A higher assurance level is required"

    def __init__(self, required: str, current: str) -> None:
        super().__init__(
            f"this action needs assurance level {required}; the session has {current}",
            required_level=required,
            current_level=current,
        )


class RateLimited(DomainError):
    slug = "rate-limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class ServiceBusy(DomainError):
    slug = "service-busy"
    title = "The service is busy; retry shortly"
    status = 503

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class IdempotencyKeyReused(DomainError):
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was already used for a different request"
    status = 422


def problem_catalogue() -> list[type[DomainError]]:
    """Every domain error type, for the problem documentation pages."""
    seen: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        seen.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.slug)


class ConsentExpired(DomainError):
    slug = "consent-expired"
    title = "The holder's consent has expired"
    status = 410


class ConsentUsedUp(DomainError):
    slug = "consent-used-up"
    title = "The holder's consent has been used as many times as it allows"
    status = 410


class ConsentWithdrawn(DomainError):
    slug = "consent-withdrawn"
    title = "The holder has withdrawn this consent"
    status = 410


class NoSigningKey(Conflict):
    slug = "no-signing-key"
    title = "No signing key is in service"


class TrustListUnavailable(DomainError):
    slug = "trust-list-unavailable"
    title = "The signed lists cannot be published: no trust-anchor key is in service"
    status = 503


class VersionImmutable(Conflict):
    slug = "version-immutable"
    title = "A published version cannot change; create a new draft version"


class InvalidTransition(Conflict):
    """An action its record's state machine does not allow from the current state (a list version's, a
    case's); carries `state` (and, for a case, `allowed`: the actions the caller may take now)."""

    slug = "invalid-transition"
    title = "The current state does not allow this action"


class OverlappingEffectiveDates(Conflict):
    slug = "overlapping-effective-dates"
    title = "The effective date overlaps another version's period"

    def __init__(self, detail: str, pointer: str = "#/effective_date", **extensions: object) -> None:
        super().__init__(detail, errors=[{"pointer": pointer, "detail": detail}], **extensions)


class FormSchemaUnusable(Conflict):
    slug = "form-schema-unusable"
    title = "The item's form schema cannot be used to check forms; an admin must revise it"


# -- materials -------------------------------------------------------------------------------------


class MaterialRefused(ValidationFailed):
    """An upload that cannot be kept as a material; `reason` is a stable code (docs/materials.md)."""

    slug = "material-refused"
    title = "The file cannot be accepted as a material"

    def __init__(self, reason: str, detail: str, pointer: str = "#/file") -> None:
        super().__init__([FieldError(pointer, detail)], detail)
        self.extensions = {"reason": reason}


class MaterialTooLarge(MaterialRefused):
    slug = "material-too-large"
    title = "The file or the case's materials exceed the size limits"
    status = 413


# -- face verification ------------------------------------------------------------------------
# Each carries `reasons`: stable codes with a message in Chinese and English that a phone or kiosk
# can show (or speak) to the person as it is.


class FacePhotoUnusable(DomainError):
    slug = "face-photo-unusable"
    title = "The photo cannot be used for a face check"
    status = 422


class FacePhotoTooLarge(DomainError):
    slug = "face-photo-too-large"
    title = "The photo is too large"
    status = 413


class FaceMismatch(Forbidden):
    slug = "face-mismatch"
    title = "The face does not match the enrolled reference"


class LivenessFailed(Forbidden):
    slug = "liveness-failed"
    title = "The liveness challenge was not passed"


class FaceNotEnrolled(Conflict):
    slug = "face-not-enrolled"
    title = "No face reference is enrolled"


class ChallengeExpired(DomainError):
    slug = "challenge-expired"
    title = "The liveness challenge has expired"
    status = 410


class ChallengeUsed(Conflict):
    slug = "challenge-used"
    title = "The liveness challenge was already answered"


class FaceAttemptsExhausted(RateLimited):
    slug = "face-attempts-exhausted"
    title = "Too many face check attempts"

    def __init__(self, detail: str, retry_after: int, **extensions: object) -> None:
        super().__init__(detail, retry_after)
        self.extensions.update(extensions)


class CaptureNotVerified(Forbidden):
    slug = "capture-not-verified"
    title = "The capture's attestation or signature does not verify"


class CaptureNotAccepted(Forbidden):
    slug = "capture-not-accepted"
    title = "This use needs a capture from an attested app or a kiosk"


class AttestationRejected(Forbidden):
    slug = "attestation-rejected"
    title = "The app attestation was not accepted"


class FaceUnavailable(DomainError):
    slug = "face-unavailable"
    title = "Face verification is unavailable"
    status = 503


class CertificateRevoked(DomainError):
    slug = "certificate-revoked"
    title = "The certificate has been revoked; nothing of it is disclosed"
    status = 410


class CertificateKeyWithdrawn(DomainError):
    slug = "certificate-key-withdrawn"
    title = "The key that signed the certificate was withdrawn; nothing of it is disclosed"
    status = 410


# -- kiosks ---------------------------------------------------------------------------------------
# A kiosk proves each request with an RFC 9421 signature; each refusal names what was wrong.


class KioskSignatureMissing(Unauthenticated):
    slug = "kiosk-signature-missing"
    title = "The request carries no kiosk signature"


class KioskSignatureInvalid(Unauthenticated):
    slug = "kiosk-signature-invalid"
    title = "The kiosk signature does not verify"


class KioskSignatureStale(Unauthenticated):
    slug = "kiosk-signature-stale"
    title = "The kiosk signature was made outside the accepted time window"


class KioskRequestReplayed(Unauthenticated):
    slug = "kiosk-request-replayed"
    title = "The kiosk request was already received once (its nonce was used)"


class KioskUnknown(Unauthenticated):
    slug = "kiosk-unknown"
    title = "No kiosk is registered under this key id"


class KioskRevoked(Forbidden):
    slug = "kiosk-revoked"
    title = "The kiosk has been revoked"


class KioskSessionEnded(Unauthenticated):
    slug = "kiosk-session-ended"
    title = "The resident's kiosk session has ended"


class KioskCapabilityMissing(Conflict):
    slug = "kiosk-capability-missing"
    title = "The kiosk is not registered with the device this needs"
# -- annual filings -----------------------------------------------------------------------------------


class FilingWindowNotOpen(Conflict):
    slug = "filing-window-not-open"
    title = "The filing window for this period has not opened yet"


class FilingExists(Conflict):
    slug = "filing-exists"
    title = "This period already has a filing; amend it instead"


# -- pension eligibility recognition ------------------------------------------------------------


class RecognitionNotPossible(Conflict):
    """Carries `reasons` (each in Chinese and English with what to do) and the `methods` still open."""

    slug = "recognition-not-possible"
    title = "The recognition cannot be made now"

# -- the data-sharing gateway ---------------------------------------------------------------------------


class PurposeNotServed(DomainError):
    slug = "purpose-not-served"
    title = "The provider does not serve this purpose, or not with these fields"
    status = 422

    def __init__(self, detail: str, pointer: str = "#/purpose", **extensions: object) -> None:
        super().__init__(detail, errors=[{"pointer": pointer, "detail": detail}], **extensions)


class ConsentNotCovering(Forbidden):
    slug = "consent-not-covering"
    title = "The citizen's consent does not cover this request"


class PreviewExpired(DomainError):
    slug = "preview-expired"
    title = "The evidence preview expired unanswered; nothing was shared"
    status = 410


class ProviderUnavailable(DomainError):
    slug = "provider-unavailable"
    title = "The data provider cannot be reached; nothing was shared"
    status = 503


class ProviderTimedOut(DomainError):
    slug = "provider-timeout"
    title = "The data provider did not answer in time; nothing was shared"
    status = 504


class NoRecord(NotFound):
    slug = "no-record"
    title = "The provider holds no record of this person"


# -- cross-province cases ---------------------------------------------------------------------------


class ModeNotOffered(DomainError):
    slug = "mode-not-offered"
    title = "The item is not offered in this mode at this receiving division on this date"
    status = 422

    def __init__(self, detail: str, pointer: str = "#/mode", **extensions: object) -> None:
        super().__init__(detail, errors=[{"pointer": pointer, "detail": detail}], **extensions)


class CoordinationPending(Conflict):
    slug = "coordination-pending"
    title = "The case cannot be decided before every coordination task is done"


# -- ratings (好差评) ---------------------------------------------------------------------------------


class RatingNotOpen(Conflict):
    slug = "rating-not-open"
    title = "The case can be rated once its result is out"


class AlreadyRated(Conflict):
    slug = "already-rated"
    title = "The case has been rated already"
