"""The service catalogue over HTTP: public reads (no sign-in) and admin changes.

Every public answer carries `sample: true` while the catalogue holds the shipped SAMPLE data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from backend.actors import Actor
from backend.catalogue.schemas import (
    Answer,
    DivisionView,
    DraftCreate,
    FaqInput,
    FaqView,
    FormCheck,
    FormCheckResult,
    ItemPage,
    ItemStandard,
    ItemView,
    ListContent,
    ListCreate,
    ListDiff,
    ListHistory,
    ListVersionView,
    ListView,
    Mode,
    Publication,
    ReceiptStandard,
    Resolution,
    SearchResult,
    VariantCreate,
    VariantSummary,
    VariantView,
    Withdrawal,
)
from backend.container import Services
from mobile_api.context import staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM

_INT4_MAX = 2**31 - 1  # version numbers are PostgreSQL integers
VersionNumber = Annotated[int, PathParameter(ge=1, le=_INT4_MAX, description="Version number of the list")]
Division = Annotated[str, QueryParameter(pattern=r"^\d{6}$", description="GB/T 2260 division code")]
AsOf = Annotated[dt.date | None, QueryParameter(description="Date the answer holds for (China time); today by default")]
SAMPLE_NOTE = " While the catalogue holds the shipped SAMPLE data, answers carry `sample: true`."

DivisionInPath = Annotated[str, PathParameter(pattern=r"^[0-9]{6}(?!\n)$", description="GB/T 2260 division code")]


class CatalogueController(Controller):
    path = "/catalogue"
    tags = ["catalogue"]

    @get("/items", operation_id="listItems", summary="Items of the catalogue",
         description="Items by frequency, filtered by department prefix (`RS`, `YB` …), mode or type." + SAMPLE_NOTE)
    async def list_items(
        self, services: NamedDependency[Services],
        department: Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{2}$")] = None,
        mode: Annotated[Mode | None, QueryParameter()] = None,
        item_type: Annotated[str | None, QueryParameter(name="type")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=_INT4_MAX)] = 0,
    ) -> ItemPage:
        return await services.catalogue.items.page(department=department, mode=mode, item_type=item_type,
                                                   limit=limit, offset=offset)

    @get("/items/{code:str}", operation_id="getItem", summary="An item's standard",
         description="The ten standard elements (name, code, basis, type, conditions, targets, process, "
                     "materials, time limit, result), modes with their Chinese names, and the form schema.")
    async def get_item(self, code: FromPath[str], services: NamedDependency[Services]) -> ItemView:
        return await services.catalogue.items.get(code)

    @get("/items/{code:str}/variants", operation_id="listItemVariants", summary="Local variants of an item",
         description="Every province's own version of the item, with how many fields depart from the national "
                     "standard.")
    async def list_variants(self, code: FromPath[str], services: NamedDependency[Services]) -> list[VariantSummary]:
        return await services.catalogue.variants.summaries(code)

    @get("/items/{code:str}/variants/{division:str}", operation_id="getItemVariant",
         summary="A province's variant and its differences",
         description="The variant in force on `as_of` (or version `version`), compared field by field with the "
                     "national standard.")
    async def get_variant(
        self, code: FromPath[str], division: DivisionInPath, services: NamedDependency[Services],
        version: Annotated[int | None, QueryParameter(ge=1, le=_INT4_MAX)] = None, as_of: AsOf = None,
    ) -> VariantView:
        return await services.catalogue.variants.get(code, division, version=version, as_of=as_of)

    @get("/items/{code:str}/receipt-standard", operation_id="getReceiptStandard",
         summary="Receipt standard (收件标准)",
         description="Exactly what the receiving place checks for this item: conditions and materials with "
                     "their form, count, whether required and which e-certificates replace them. The case is "
                     "decided at the handling place, so its province's local variant governs where it has one; "
                     "`handling_division` is required (the same as `receiving_division` for a local matter).")
    async def receipt_standard(
        self, code: FromPath[str], services: NamedDependency[Services], receiving_division: Division,
        handling_division: Division, as_of: AsOf = None,
    ) -> ReceiptStandard:
        return await services.catalogue.receipt.standard(code, receiving_division, handling_division, as_of)

    @post("/items/{code:str}/form-check", operation_id="checkApplicationForm", status_code=200,
          summary="Check an application form",
          description="Checks a form against the item's JSON Schema (the handling province's variant where it has "
                      "one) and lists every problem as a JSON pointer. Nothing is stored.")
    async def check_form(
        self, code: FromPath[str], data: JSONBody[FormCheck], services: NamedDependency[Services]
    ) -> FormCheckResult:
        return await services.catalogue.receipt.check_form(code, data)

    @get("/items/{code:str}/faq", operation_id="listItemFaq", summary="FAQ about an item",
         description="The knowledge-base entries linked to the item.")
    async def item_faq(self, code: FromPath[str], services: NamedDependency[Services]) -> list[FaqView]:
        return await services.catalogue.faq.entries(code)

    @get("/lists", operation_id="listServiceLists", summary="Service lists (通办清单)",
         description="National batches and regional lists, each with the version in force on `as_of`." + SAMPLE_NOTE)
    async def lists(self, services: NamedDependency[Services], as_of: AsOf = None) -> list[ListView]:
        return await services.catalogue.lists.overview(as_of)

    @get("/lists/{code:str}", operation_id="getServiceList", summary="A list and its versions",
         description="Published, superseded and withdrawn versions with their periods.")
    async def get_list(self, code: FromPath[str], services: NamedDependency[Services]) -> ListView:
        return await services.catalogue.lists.get(code)

    @get("/lists/{code:str}/versions/{version:int}", operation_id="getServiceListVersion",
         summary="One version of a list", description="Its entries with modes and deadlines, and its state.")
    async def get_version(
        self, code: FromPath[str], version: VersionNumber, services: NamedDependency[Services]
    ) -> ListVersionView:
        return await services.catalogue.lists.version(code, version)

    @get("/lists/{code:str}/diff", operation_id="diffServiceListVersions", summary="Differences between versions",
         description="Entries added, removed or changed (modes, deadlines, notes), members and fields changed "
                     "from version `from` to version `to`.")
    async def diff(
        self, code: FromPath[str], services: NamedDependency[Services],
        from_version: Annotated[int, QueryParameter(name="from", ge=1, le=_INT4_MAX)],
        to_version: Annotated[int, QueryParameter(name="to", ge=1, le=_INT4_MAX)],
    ) -> ListDiff:
        return await services.catalogue.lists.diff(code, from_version, to_version)

    @get("/lists/{code:str}/history", operation_id="getServiceListHistory", summary="Change history of a list",
         description="Publications, supersessions and withdrawals, oldest first.")
    async def history(self, code: FromPath[str], services: NamedDependency[Services]) -> ListHistory:
        return await services.catalogue.lists.history(code)

    @get("/resolution", operation_id="resolveItems", summary="What can be handled where",
         description="Items a person whose matter belongs to `matter_division` can handle at `at_division` on "
                     "`as_of`, in which modes, and which lists say so. National lists apply everywhere; a "
                     "regional list only when both divisions lie in its member provinces." + SAMPLE_NOTE)
    async def resolve(
        self, services: NamedDependency[Services], matter_division: Division, at_division: Division,
        as_of: AsOf = None,
    ) -> Resolution:
        return await services.catalogue.resolution.resolve(matter_division, at_division, as_of)

    @get("/search", operation_id="searchCatalogue", summary="Search items and FAQ",
         description="Chinese search: partial names (`退休`), aliases both ways (`社保` ↔ `社会保险`), exact and "
                     "frequent items first; read loosely when nothing matches the whole query.")
    async def search(
        self, services: NamedDependency[Services], q: Annotated[str, QueryParameter(min_length=1, max_length=100)],
        limit: Annotated[int, QueryParameter(ge=1, le=50)] = 20,
    ) -> SearchResult:
        return await services.catalogue.search.find(q, limit=limit)

    @get("/ask", operation_id="askCatalogue", summary="Ask a question (智能客服)",
         description="The FAQ answers that best cover a question in plain words, with the items they refer to.")
    async def ask(
        self, services: NamedDependency[Services], q: Annotated[str, QueryParameter(min_length=1, max_length=200)],
    ) -> Answer:
        return await services.catalogue.search.ask(q)

    @get("/faq", operation_id="listFaq", summary="The FAQ knowledge base", description="Every entry with its items.")
    async def faq(self, services: NamedDependency[Services]) -> list[FaqView]:
        return await services.catalogue.faq.entries()

    @get("/faq/{faq_id:str}", operation_id="getFaq", summary="One FAQ entry", description="With its items.")
    async def get_faq(self, faq_id: FromPath[str], services: NamedDependency[Services]) -> FaqView:
        return await services.catalogue.faq.get(faq_id)

    @get("/divisions/{code:str}", operation_id="getDivision", summary="A GB/T 2260 division",
         description="Name, level and province of a division code; a retired or unknown code is a 422 problem.")
    async def division(self, code: DivisionInPath, services: NamedDependency[Services]) -> DivisionView:
        return services.catalogue.places.check(code)


class CatalogueAdminController(Controller):
    path = "/admin/catalogue"
    tags = ["catalogue"]
    guards = [staff_guard("admin")]
    security = BEARER

    @post("/items", operation_id="createItem", summary="Add an item (national admin)",
          description="A new item with its full standard. Send an `Idempotency-Key` for safe retries. Audited.")
    async def create_item(
        self, request: Request[Any, Any, Any], data: JSONBody[ItemStandard], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[ItemView]:
        return await idempotent_create(request, services, actor, lambda: services.catalogue.items.create(data, actor))

    @put("/items/{code:str}", operation_id="reviseItem", summary="Revise an item's standard (national admin)",
         description="Replaces the standard; the previous one is kept as a revision. Audited.")
    async def revise_item(
        self, code: FromPath[str], data: JSONBody[ItemStandard], services: NamedDependency[Services],
        actor: NamedDependency[Actor],
    ) -> ItemView:
        return await services.catalogue.items.revise(code, data, actor)

    @post("/items/{code:str}/variants", operation_id="publishItemVariant",
          summary="Publish a province's local variant",
          description="A provincial admin publishes their province's version of a national item from an "
                      "effective date; a newer version must take effect after the previous one. Audited.")
    async def create_variant(
        self, request: Request[Any, Any, Any], code: FromPath[str], data: JSONBody[VariantCreate],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[VariantView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.catalogue.variants.publish(code, data, actor))

    @post("/lists", operation_id="createServiceList", summary="Create a list with a draft first version",
          description="By a national admin: a regional list's members commit their provinces, so only a national "
                      "admin chooses them (admins of member provinces then run its versions). Send an "
                      "`Idempotency-Key` for safe retries. Audited.")
    async def create_list(
        self, request: Request[Any, Any, Any], data: JSONBody[ListCreate], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[ListVersionView]:
        return await idempotent_create(request, services, actor, lambda: services.catalogue.lists.create(data, actor))

    @get("/lists/{code:str}", operation_id="adminGetServiceList", summary="A list including its draft",
         description="Like the public view, with the draft version if there is one.")
    async def get_list(self, code: FromPath[str], services: NamedDependency[Services]) -> ListView:
        return await services.catalogue.lists.get(code, include_drafts=True)

    @get("/lists/{code:str}/versions/{version:int}", operation_id="adminGetServiceListVersion",
         summary="One version, draft included", description="A draft is visible to admins only.")
    async def get_version(
        self, code: FromPath[str], version: VersionNumber, services: NamedDependency[Services]
    ) -> ListVersionView:
        return await services.catalogue.lists.version(code, version, include_drafts=True)

    @get("/lists/{code:str}/history", operation_id="adminGetServiceListHistory",
         summary="Change history including drafts", description="Drafts created, edited and discarded as well.")
    async def history(self, code: FromPath[str], services: NamedDependency[Services]) -> ListHistory:
        return await services.catalogue.lists.history(code, include_drafts=True)

    @post("/lists/{code:str}/drafts", operation_id="createServiceListDraft", summary="Start a new draft version",
          description="A copy of the newest version, or the content given. One draft per list. Send an "
                      "`Idempotency-Key` for safe retries. Audited.")
    async def create_draft(
        self, request: Request[Any, Any, Any], code: FromPath[str], data: JSONBody[DraftCreate],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[ListVersionView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.catalogue.lists.create_draft(code, data, actor))

    @put("/lists/{code:str}/versions/{version:int}", operation_id="updateServiceListDraft",
         summary="Edit a draft version",
         description="Replaces the draft's content. A published version never changes: 409 `version-immutable`.")
    async def update_draft(
        self, code: FromPath[str], version: VersionNumber, data: JSONBody[ListContent],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
    ) -> ListVersionView:
        return await services.catalogue.lists.update_draft(code, version, data, actor)

    @delete("/lists/{code:str}/versions/{version:int}", operation_id="discardServiceListDraft",
            summary="Discard a draft version", description="Only a draft can be discarded. Audited.")
    async def discard_draft(
        self, code: FromPath[str], version: VersionNumber, services: NamedDependency[Services],
        actor: NamedDependency[Actor],
    ) -> None:
        await services.catalogue.lists.discard_draft(code, version, actor)

    @post("/lists/{code:str}/versions/{version:int}/publish", operation_id="publishServiceListVersion",
          status_code=200, summary="Publish a draft from an effective date",
          description="The version in force until then ends on that date (it stays `published`, and can still be "
                      "withdrawn, until then); a date that overlaps another version's period is refused (409 "
                      "`overlapping-effective-dates`). Audited.")
    async def publish(
        self, code: FromPath[str], version: VersionNumber, data: JSONBody[Publication],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
    ) -> ListVersionView:
        return await services.catalogue.lists.publish(code, version, data, actor)

    @post("/lists/{code:str}/versions/{version:int}/withdraw", operation_id="withdrawServiceListVersion",
          status_code=200, summary="Withdraw a published version",
          description="It stops applying from `effective_until` (today by default) and stays in the history. A "
                      "version withdrawn before it takes effect never applies, and the version it was to supersede "
                      "stays in force. Audited.")
    async def withdraw(
        self, code: FromPath[str], version: VersionNumber, data: JSONBody[Withdrawal],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
    ) -> ListVersionView:
        return await services.catalogue.lists.withdraw(code, version, data, actor)


class FaqAdminController(Controller):
    path = "/admin/catalogue/faq"
    tags = ["catalogue"]
    guards = [staff_guard("admin", "supervisor")]
    security = BEARER

    @post("/", operation_id="createFaq", summary="Add an FAQ entry",
          description="Admins and supervisors keep the knowledge base. Send an `Idempotency-Key` for safe retries. "
                      "Audited.")
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[FaqInput], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[FaqView]:
        return await idempotent_create(request, services, actor, lambda: services.catalogue.faq.create(data, actor))

    @put("/{faq_id:str}", operation_id="updateFaq", summary="Edit an FAQ entry",
         description="Replaces question, answer and linked items. Audited.")
    async def update(
        self, faq_id: FromPath[str], data: JSONBody[FaqInput], services: NamedDependency[Services],
        actor: NamedDependency[Actor],
    ) -> FaqView:
        return await services.catalogue.faq.update(faq_id, data, actor)

    @delete("/{faq_id:str}", operation_id="deleteFaq", summary="Delete an FAQ entry", description="Audited.")
    async def remove(self, faq_id: FromPath[str], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> None:
        await services.catalogue.faq.delete(faq_id, actor)


CATALOGUE_CONTROLLERS = [CatalogueController, CatalogueAdminController, FaqAdminController]
