"""The Litestar application: routes, dependencies, error mapping, OpenAPI, metrics, logging."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import openapi_ui_bundles.swagger_ui
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from backend.config import Settings, load_settings
from backend.container import Services
from backend.logs import configure_logging
from kiosk.agent import agent_router
from kiosk.cases import kiosk_case_controllers
from kiosk.demo import running_demo_device
from kiosk.devices import KIOSK_CONTROLLERS
from mobile_api.cases import case_controllers
from mobile_api.catalogue import CATALOGUE_CONTROLLERS
from mobile_api.certificates import CERTIFICATE_CONTROLLERS
from mobile_api.context import (
    AllowHeaderMiddleware,
    InFlight,
    RequestContextMiddleware,
    StrictJsonRequest,
    provide_actor,
    provide_services,
    refuse_nul_parameters,
)
from mobile_api.events import EVENT_CONTROLLERS
from mobile_api.face import FACE_CONTROLLERS
from mobile_api.filings import FILING_CONTROLLERS
from mobile_api.information import INFORMATION_CONTROLLERS
from mobile_api.sharing import SHARING_CONTROLLERS
from mobile_api.identity import IDENTITY_CONTROLLERS
from mobile_api.notifications import NOTIFICATION_CONTROLLERS
from mobile_api.openapi import ClosedStructSchemaPlugin, document_contract
from mobile_api.pension import PENSION_CONTROLLERS
from mobile_api.ratings import RATING_CONTROLLERS
from mobile_api.problems import EXCEPTION_HANDLERS
from mobile_api.system import SYSTEM_CONTROLLERS

API_VERSION = "0.1.0"
log = logging.getLogger("tongban.server")
TAGS = [
    Tag(name="identity", description="Citizens: sign-in with phone and code, tokens, profile"),
    Tag(name="staff", description="Staff at receiving and handling places, scoped to a division"),
    Tag(name="admin", description="Administration: staff accounts, audit chain"),
    Tag(name="operations", description="Health, problem types"),
    Tag(name="catalogue", description="Service catalogue: items and their standard, versioned cross-province lists, "
                                      "resolution, receipt standards, local variants, search, FAQ. Reads are public; "
                                      "the shipped catalogue is SAMPLE data (`sample: true`)"),
    Tag(name="certificates", description="E-certificates (电子证照): issuing, QR verification online and offline, "
                                         "revocation, signed trust lists, consented third-party checks"),
    Tag(name="face", description="Face verification: enrolment at a service window, photo match (L2), "
                                 "liveness challenge (L3)"),
    Tag(name="pension", description="Pension eligibility recognition (养老金领取资格认证): rosters of paying agencies, "
                                    "the pre-check, every way of being recognised, silent recognition, visits"),
    Tag(name="events", description="Events for other systems: signed webhooks to registered subscribers, "
                                   "retries and dead letters, the delivery log of a subject"),
    Tag(name="notifications", description="The citizen's inbox: messages about their cases, reminders, results"),
    Tag(name="kiosk", description="Township self-service kiosks: devices that sign every request (RFC 9421), "
                                  "their registration, health and configuration, residents' sessions and printing"),
    Tag(name="filings", description="Annual filings (年审年报): organisations and their filers, annual obligations "
                                    "with a window per year, drafts, submission, amendments, receipts; staff overview"),
    Tag(name="information", description="Information change (信息变更): address, emergency contact, bank account for "
                                        "benefits, each at its assurance level, delivered to subscribing agencies"),
    Tag(name="cases", description="Cross-province cases (办件): apply in a mode offered at the receiving place, follow "
                                   "the timeline, answer a 补正; staff at the receiving and handling places move "
                                   "cases along the state table, decide and deliver"),
    Tag(name="data-sharing", description="Information query (信息查询): records other agencies hold, from registered "
                                         "providers, purpose-bound, with the citizen's evidence preview and log"),
]


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def _openapi() -> OpenAPIConfig:
    assets = "/docs/assets"
    return OpenAPIConfig(
        title="Tongban API",
        version=API_VERSION,
        description="Cross-province government services (跨省通办). Errors are RFC 9457 problem details; "
                    "see `/problems` for every problem type. Throughout the API, no string (a body's value or "
                    "member name, a path or query parameter) may hold the NUL character U+0000, and no JSON "
                    "body nests deeper than 256 levels: such a request is refused (422 naming the field, 400).",
        tags=TAGS,
        path="/docs",
        render_plugins=[SwaggerRenderPlugin(
            path="/", js_url=f"{assets}/swagger-ui-bundle.js", css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js")],
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT",
                                     description="Access token from `/auth/sign-in` or `/auth/staff/sign-in`"),
            "kiosk-signature": SecurityScheme(
                type="apiKey", name="Signature", security_scheme_in="header",
                description="RFC 9421 HTTP Message Signature by a registered kiosk's Ed25519 key over `@method`, "
                            "`@path`, `@query` and `content-digest` (RFC 9530), with `created`, `nonce`, "
                            "`keyid` and `tag=\"tongban-kiosk\"`; see docs/kiosk.md"),
            "kiosk-session": SecurityScheme(
                type="apiKey", name="Kiosk-Session", security_scheme_in="header",
                description="The id of a resident's session at the signing kiosk (from `POST /kiosk/v1/sessions`); "
                            "usable only on requests that kiosk signs"),
        }),
    )


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    extra_routes: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the app. With `services` given (tests), the caller owns their lifetime."""
    settings = settings or (services.settings if services else load_settings())
    in_flight = InFlight()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Here rather than at import: the server configures logging after loading the app.
        configure_logging(settings.log_level)
        if services is not None:
            yield
            return
        started = await Services.start(settings)
        app.state.services = started
        await started.face.start()
        # What exists after start-up lives as long as the worker: keep it out of full collections,
        # which otherwise stall the event loop for tens of milliseconds (bench/face_pipeline.py).
        # Collect first, so start-up garbage is freed rather than frozen with the rest.
        gc.collect()
        gc.freeze()
        try:
            async with running_demo_device(app, started):
                yield
                # Asked to stop: the server takes no new request; those being answered finish first.
                if left := await in_flight.drained(settings.stop_grace_seconds):
                    log.warning("stopping with %d request(s) still being answered after %s s", left,
                                settings.stop_grace_seconds)
        finally:
            await started.close()

    metrics = PrometheusConfig(app_name="tongban", group_path=True,
                               exclude=["/metrics", "/health", "/docs"])
    routes: list[Any] = [
        *SYSTEM_CONTROLLERS, *IDENTITY_CONTROLLERS, *CATALOGUE_CONTROLLERS, *CERTIFICATE_CONTROLLERS,
        *FACE_CONTROLLERS, *NOTIFICATION_CONTROLLERS, *KIOSK_CONTROLLERS, *EVENT_CONTROLLERS, *FILING_CONTROLLERS,
        *PENSION_CONTROLLERS, *INFORMATION_CONTROLLERS, *SHARING_CONTROLLERS, *case_controllers(settings),
        *kiosk_case_controllers(settings), *RATING_CONTROLLERS, agent_router(), MetricsController,
        *extra_routes,
        create_static_files_router("/docs/assets", [openapi_ui_bundles.swagger_ui.static_path],
                                   include_in_schema=False),
    ]
    app = Litestar(
        route_handlers=routes,
        dependencies={"services": Provide(provide_services, sync_to_thread=False),
                      "actor": Provide(provide_actor)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[DefineMiddleware(RequestContextMiddleware, in_flight=in_flight), AllowHeaderMiddleware,
                    metrics.middleware],
        openapi_config=_openapi(),
        plugins=[ClosedStructSchemaPlugin()],
        request_class=StrictJsonRequest,
        before_request=refuse_nul_parameters,
        lifespan=[lifespan],
        state=State({"services": services} if services is not None else {}),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    document_contract(app)
    return app
