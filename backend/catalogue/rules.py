"""What every part of the catalogue applies: its dates are China dates, who may change what, and the
database's own refusals turned into problems."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from backend import china_time
from backend.actors import Actor
from backend.errors import Conflict, Forbidden, OutsideDivision, OverlappingEffectiveDates, VersionImmutable
from backend.identity.divisions import NATIONAL, within

FAQ_EDITORS = frozenset({"admin", "supervisor"})


def today() -> dt.date:
    """Today in China, where every effective date of the catalogue is meant."""
    return china_time.today()


def require_admin(actor: Actor) -> str:
    """The admin's division scope; anyone else is refused."""
    if actor.kind != "staff" or actor.role != "admin":
        raise Forbidden("only an admin may change the catalogue")
    return actor.division or ""


def require_national_admin(actor: Actor, why: str) -> None:
    if require_admin(actor) != NATIONAL:
        raise OutsideDivision(f"only a national admin (000000) may {why}")


def require_faq_editor(actor: Actor) -> None:
    if actor.kind != "staff" or actor.role not in FAQ_EDITORS:
        raise Forbidden("only an admin or a supervisor may edit the FAQ")


def may_change_list(actor: Actor, kind: str, members: Sequence[str], new_members: Sequence[str] | None = None) -> None:
    """National lists, and who belongs to a regional list, are a national admin's: membership commits
    every member province. The versions of a regional list are also its member provinces' admins'."""
    scope = require_admin(actor)
    if scope == NATIONAL:
        return
    if kind == "national":
        raise OutsideDivision("only a national admin (000000) may change a national list")
    if new_members is not None and set(new_members) != set(members):
        raise OutsideDivision("only a national admin (000000) may choose the members of a regional list: "
                              "membership commits every member province")
    if not any(within(scope, m) for m in members):
        raise OutsideDivision("a provincial admin may change only the regional lists their province belongs to")


@asynccontextmanager
async def database_refusals() -> AsyncIterator[None]:
    """Turn the database's own guards (immutability triggers, non-overlap constraint, unique keys) into
    problems, for the rare write that passes the service's checks in a race."""
    try:
        yield
    except asyncpg.RaiseError as exc:
        if getattr(exc, "hint", None) == "catalogue-immutable":
            raise VersionImmutable(str(exc)) from None
        raise
    except asyncpg.ExclusionViolationError:
        raise OverlappingEffectiveDates("another version of this list is in force on that date") from None
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a concurrent change got there first ({exc.constraint_name}); read it and retry") from None
