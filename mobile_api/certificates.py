"""E-certificates over HTTP: the holder's wallet, staff issuing and revoking, public verification,
consented third-party checks and the signed lists for offline verifiers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from backend.actors import Actor
from backend.certificates.registry import CERTIFICATE_READERS, ISSUERS
from backend.certificates.schemas import (
    CertificateOrder,
    CertificateSummary,
    CertificateTypeView,
    CertificateView,
    CheckAnswer,
    CheckRecord,
    CheckRequest,
    ConsentCreate,
    ConsentIssued,
    ConsentView,
    QrCode,
    RevocationRequest,
    Verification,
    VerifyRequest,
    staff_order,
)
from backend.certificates.trust_lists import AnchorSet
from backend.container import Services
from mobile_api.context import citizen_guard, client_address, staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM

JOSE = "application/jose"
_LIST_CACHE = {"Cache-Control": "public, max-age=300"}


class CertificateTypeController(Controller):
    path = "/certificate-types"
    tags = ["certificates"]

    @get("/", operation_id="listCertificateTypes", summary="Certificate types and their field schemas",
         description="Every type an authority can issue: its code, Chinese name, who holds it, validity, the "
                     "JSON Schema its fields satisfy and the scopes a holder may share.")
    async def list_types(self, services: NamedDependency[Services]) -> list[CertificateTypeView]:
        return services.certificates.registry.certificate_types()


class TrustListController(Controller):
    path = "/.well-known/tongban"
    tags = ["certificates"]

    @get("/trust-list", operation_id="getTrustList", summary="Signed trust list of issuer keys",
         description="A compact JWS (EdDSA, `typ: tongban-trust-list`) whose payload is a JWK Set of every issuing "
                     "authority's Ed25519 keys in every province, with `iat` and `next_update`. Verify it with a "
                     "trust-anchor key; see docs/certificate-format.md.", media_type=JOSE)
    async def trust_list(self, services: NamedDependency[Services]) -> Response[str]:
        return Response(await services.certificates.lists.signed_trust_list(), media_type=JOSE,
                        headers=_LIST_CACHE)

    @get("/revocation-list", operation_id="getRevocationList", summary="Signed revocation list",
         description="A compact JWS (EdDSA, `typ: tongban-revocation-list`) naming revoked certificates that have "
                     "not expired, with `iat` and `next_update`, for offline verifiers.", media_type=JOSE)
    async def revocation_list(self, services: NamedDependency[Services]) -> Response[str]:
        return Response(await services.certificates.lists.signed_revocation_list(), media_type=JOSE,
                        headers=_LIST_CACHE)

    @get("/trust-anchors", operation_id="getTrustAnchors", summary="Trust-anchor public keys",
         description="The JWK Set of keys that sign the trust and revocation lists. A verifier pins these once, "
                     "obtained through a channel it trusts, and checks every list against them.")
    async def trust_anchors(self, services: NamedDependency[Services]) -> AnchorSet:
        return await services.certificates.lists.trust_anchors()


class VerificationController(Controller):
    path = "/"
    tags = ["certificates"]

    @post("/certificates/verify", operation_id="verifyCertificate", summary="Verify a certificate's QR text",
          description="Runs the offline checks (format, signature against the trust list, issuer, validity), then "
                      "asks the registry whether this very certificate was issued, and its live revocation status. "
                      "No sign-in needed. The answer names the reason of a failure: `bad-signature`, "
                      "`unknown-issuer`, `expired`, `not-yet-valid`, `revoked`, `malformed`, `wrong-prefix`, "
                      "`wrong-algorithm`, `too-large`, `not-in-registry`.", status_code=200)
    async def verify(self, request: Request[Any, Any, Any], data: JSONBody[VerifyRequest],
                     services: NamedDependency[Services]) -> Verification:
        return await services.certificates.lists.verify(data.qr_text, client_address(request))

    @post("/certificate-checks", operation_id="checkCertificateWithConsent",
          summary="Check a certificate with the holder's consent (证明证照查验)",
          description="A relying party presents the holder's consent token and says who it is; it receives only the "
                      "fields the holder consented to. Each use is counted; an expired, used-up or withdrawn token "
                      "is refused (410) and the attempt shown to the holder.", status_code=200)
    async def check(self, request: Request[Any, Any, Any], data: JSONBody[CheckRequest],
                    services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CheckAnswer:
        return await services.certificates.consents.check(data, client_address(request), actor)


class HolderCertificateController(Controller):
    path = "/me"
    tags = ["certificates"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/certificates", operation_id="listMyCertificates", summary="My certificates",
         description="Every certificate held by the signed-in citizen, newest first, with its status.")
    async def list_mine(self, services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> list[CertificateSummary]:
        return await services.certificates.registry.my_certificates(actor)

    @get("/certificates/{certificate_id:uuid}", operation_id="getMyCertificate", summary="One of my certificates",
         description="All fields, validity, issuer and status. Audited.")
    async def get_mine(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> CertificateView:
        return await services.certificates.registry.my_certificate_view(actor, certificate_id)

    @get("/certificates/{certificate_id:uuid}/qr", operation_id="getMyCertificateQrText",
         summary="My certificate's QR text", description="The signed `TB1:` text to show or pass on. Audited.")
    async def qr_text(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> QrCode:
        return await services.certificates.registry.my_qr(actor, certificate_id)

    @get("/certificates/{certificate_id:uuid}/qr.png", operation_id="getMyCertificateQrImage",
         summary="My certificate's QR code", description="PNG, error-correction level Q. Audited.",
         media_type="image/png")
    async def qr_image(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> Response[bytes]:
        return Response(await services.certificates.registry.my_qr_png(actor, certificate_id),
                        media_type="image/png")

    @get("/certificates/{certificate_id:uuid}/printout.png", operation_id="getMyCertificatePrintoutImage",
         summary="Printable certificate (PNG)", description="An A4 page at 150 dpi with every field and the QR "
         "code, for kiosk printers. Audited.", media_type="image/png")
    async def printout_png(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                           actor: NamedDependency[Actor]) -> Response[bytes]:
        return Response(await services.certificates.registry.my_printout(actor, certificate_id, "png"),
                        media_type="image/png")

    @get("/certificates/{certificate_id:uuid}/printout.pdf", operation_id="getMyCertificatePrintoutPdf",
         summary="Printable certificate (PDF)", description="The same A4 page as a PDF. Audited.",
         media_type="application/pdf")
    async def printout_pdf(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                           actor: NamedDependency[Actor]) -> Response[bytes]:
        return Response(await services.certificates.registry.my_printout(actor, certificate_id, "pdf"),
                        media_type="application/pdf")

    @post("/certificates/{certificate_id:uuid}/consents", operation_id="createCertificateConsent",
          summary="Consent to a third-party check",
          description="Names the relying party, the fields it may see, how long and how many times. The token in the "
                      "answer is shown once; only its hash is kept, so this call is not replayed by Idempotency-Key.")
    async def create_consent(self, certificate_id: FromPath[uuid.UUID], data: JSONBody[ConsentCreate],
                             services: NamedDependency[Services], actor: NamedDependency[Actor]) -> ConsentIssued:
        return await services.certificates.consents.create_consent(actor, certificate_id, data)

    @get("/certificates/{certificate_id:uuid}/consents", operation_id="listCertificateConsents",
         summary="Consents given for a certificate", description="With uses counted and status.")
    async def list_consents(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                            actor: NamedDependency[Actor]) -> list[ConsentView]:
        return await services.certificates.consents.my_consents(actor, certificate_id)

    @delete("/certificate-consents/{consent_id:uuid}", operation_id="withdrawCertificateConsent",
            summary="Withdraw a consent", description="The token stops working at once.", status_code=200)
    async def withdraw_consent(self, consent_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                               actor: NamedDependency[Actor]) -> ConsentView:
        return await services.certificates.consents.withdraw_consent(actor, consent_id)

    @get("/certificate-checks", operation_id="listMyCertificateChecks", summary="Checks made on my certificates",
         description="Every presentation of my consent tokens: relying party, who presented it, when, which fields "
                     "were disclosed, and refused attempts.")
    async def checks(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                     certificate_id: FromQuery[uuid.UUID | None] = None) -> list[CheckRecord]:
        return await services.certificates.consents.my_checks(actor, certificate_id)


class StaffCertificateController(Controller):
    path = "/staff/certificates"
    tags = ["certificates"]
    guards = [staff_guard(*CERTIFICATE_READERS)]
    security = BEARER

    @post("/", operation_id="issueCertificate", summary="Issue a certificate",
          description="Handling officers and admins issue for authorities inside their division. Fields are "
                      "checked against the type's schema; a citizen holder is named by account or resident ID, an "
                      "organisation by GB 32100 code. Audited; send an `Idempotency-Key` for safe retries.",
          guards=[staff_guard(*ISSUERS)])
    async def issue(
        self, request: Request[Any, Any, Any], data: JSONBody[CertificateOrder], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[CertificateView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.certificates.registry.issue(staff_order(data), actor))

    @get("/{certificate_id:uuid}", operation_id="staffGetCertificate", summary="Read a certificate",
         description="Staff whose division covers the issuing authority. Audited.")
    async def get_certificate(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                              actor: NamedDependency[Actor]) -> CertificateView:
        return await services.certificates.registry.staff_certificate(certificate_id, actor)

    @get("/{certificate_id:uuid}/printout.pdf", operation_id="staffPrintCertificate",
         summary="Print a certificate at a window", description="The printable A4 PDF, for handing a certificate "
         "over (organisations included). Audited.", media_type="application/pdf")
    async def printout(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> Response[bytes]:
        return Response(await services.certificates.registry.staff_printout(certificate_id, actor, "pdf"),
                        media_type="application/pdf")

    @post("/{certificate_id:uuid}/revocation", operation_id="revokeCertificate", summary="Revoke a certificate",
          description="Handling officers and admins of the issuing authority's division, with a reason (published) "
                      "and a note (internal). Audited; send an `Idempotency-Key` for safe retries.",
          guards=[staff_guard(*ISSUERS)])
    async def revoke(
        self, request: Request[Any, Any, Any], certificate_id: FromPath[uuid.UUID], data: JSONBody[RevocationRequest],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[CertificateView]:
        return await idempotent_create(
            request, services, actor, lambda: services.certificates.registry.revoke(certificate_id, data, actor),
            status=200)


CERTIFICATE_CONTROLLERS = [CertificateTypeController, TrustListController, VerificationController,
                           HolderCertificateController, StaffCertificateController]
