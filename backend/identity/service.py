"""Identity use cases: one-time codes, citizen registration and sign-in, staff sign-in, token
refresh with rotation, sign-out, step-up, and reading personal data under division scope."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral, Limit
from backend.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OutsideDivision,
    Unauthenticated,
    ValidationFailed,
)
from backend.identity import divisions, repository
from backend.identity.resident_id import (
    InvalidResidentId,
    birth_date,
    mask_resident_id,
    normalise_resident_id,
)
from backend.identity.schemas import (
    CitizenProfile,
    CitizenRegistration,
    StaffAccount,
    StaffCreate,
    TokenPair,
)
from backend.identity.sms import SmsGateway
from backend.security.passwords import hash_password, verify_password
from backend.security.pii import PiiCipher, mask_phone
from backend.security.reach import reachable
from backend.security.tokens import (
    AccessClaims,
    TokenCodec,
    new_opaque_token,
    opaque_token_hash,
)

# An elevated assurance level is carried over by refresh only this long after the face check.
STEP_UP_SECONDS = 15 * 60
# How long Redis remembers that a staff account is active, before asking the database again. Disabling
# through the service takes effect at once; an account changed behind its back, within this long.
STAFF_STATUS_SECONDS = 30
# Staff roles allowed to read citizens' personal data, within their division.
CITIZEN_READERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class CodeLimits:
    resend_seconds: int = 60
    per_phone_hour: int = 5
    per_client_hour: int = 30
    sign_in_attempts: int = 5
    sign_in_window: int = 15 * 60
    wrong_codes: int = 5


class IdentityService:
    def __init__(
        self,
        db: Database,
        ephemeral: Ephemeral,
        cipher: PiiCipher,
        tokens: TokenCodec,
        audit: AuditLog,
        sms: SmsGateway,
        *,
        refresh_seconds: int,
        otp_seconds: int,
        limits: CodeLimits = CodeLimits(),
    ) -> None:
        self.db, self.ephemeral, self.cipher, self.tokens = db, ephemeral, cipher, tokens
        self.audit, self.sms, self.limits = audit, sms, limits
        self.refresh_seconds, self.otp_seconds = refresh_seconds, otp_seconds

    # -- one-time codes -------------------------------------------------------------------------

    def _phone_hash(self, phone: str) -> bytes:
        return self.cipher.lookup_hash(phone, purpose="phone")

    def _code_key(self, phone_hash: bytes) -> str:
        return self.ephemeral.key("otp", phone_hash.hex())

    async def request_code(self, phone: str, client: str, actor: Actor) -> int:
        """Send a six-digit code to `phone`; return its lifetime in seconds."""
        phone_hash = self._phone_hash(phone)
        subject = phone_hash.hex()
        limits = [Limit("code-hour", subject, self.limits.per_phone_hour, 3600, "code requests for this phone"),
                  Limit("code-client", client, self.limits.per_client_hour, 3600, "code requests from this client")]
        if self.limits.resend_seconds:
            limits.insert(0, Limit("code-resend", subject, 1, self.limits.resend_seconds,
                                   "code requests for this phone"))
        await self.ephemeral.reserve(*limits)
        code = f"{secrets.randbelow(10**6):06d}"
        digest = hmac.new(phone_hash, code.encode(), hashlib.sha256).hexdigest()
        masked = mask_phone(phone)
        async with self.db.transaction() as conn:
            await self.sms.send(conn, phone, phone_hash, masked,
                                f"【通办】您的验证码是 {code}，{self.otp_seconds // 60} 分钟内有效。")
            await self.audit.record(conn, actor, "otp.sent", "phone", masked)
        await self.ephemeral.client.set(self._code_key(phone_hash), digest, ex=self.otp_seconds)
        return self.otp_seconds

    async def _consume_code(self, phone: str, code: str) -> bytes:
        """Check a code once; a wrong code counts against the phone; a right one is used up."""
        phone_hash = self._phone_hash(phone)
        # The attempt is counted before the code is compared, and given back only if it was right.
        attempt = await self.ephemeral.reserve(Limit(
            "sign-in-failures", phone_hash.hex(), self.limits.sign_in_attempts, self.limits.sign_in_window,
            "failed sign-in attempts for this phone"))
        key = self._code_key(phone_hash)
        expected = await self.ephemeral.client.get(key)
        given = hmac.new(phone_hash, code.encode(), hashlib.sha256).hexdigest().encode()
        if expected is None or not hmac.compare_digest(expected, given):
            raise ValidationFailed.field("code", "the code is wrong or has expired")
        if not await self.ephemeral.client.delete(key):
            raise ValidationFailed.field("code", "the code was already used")
        await attempt.release()
        return phone_hash

    # -- sessions -------------------------------------------------------------------------------

    async def _open_session(
        self, conn: asyncpg.Connection, kind: str, principal_id: uuid.UUID, level: str = "L1",
        role: str | None = None, division: str | None = None,
    ) -> tuple[uuid.UUID, TokenPair]:
        session_id = await repository.insert_session(conn, kind, principal_id, level)
        return session_id, await self._issue(conn, kind, principal_id, session_id, level, role, division)

    async def _issue(
        self, conn: asyncpg.Connection, kind: str, principal_id: uuid.UUID, session_id: uuid.UUID,
        level: str, role: str | None, division: str | None,
    ) -> TokenPair:
        refresh, refresh_hash = new_opaque_token()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.refresh_seconds)
        await repository.insert_refresh_token(conn, refresh_hash, session_id, expires)
        access = self.tokens.issue(AccessClaims(
            sub=str(principal_id), kind=kind, session_id=str(session_id), acr=level,  # type: ignore[arg-type]
            role=role, division=division))
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=self.tokens.lifetime,
                         assurance_level=level)  # type: ignore[arg-type]

    async def register_citizen(self, form: CitizenRegistration, actor: Actor) -> TokenPair:
        try:
            resident_id = normalise_resident_id(form.resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("resident_id", str(exc)) from None
        try:
            divisions.check_division(form.home_division)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("home_division", str(exc)) from None
        phone_hash = await self._consume_code(form.phone, form.code)
        async with self.db.transaction() as conn:
            row = await repository.insert_citizen(
                conn,
                resident_id_enc=self.cipher.encrypt(resident_id, purpose="citizen.resident_id"),
                resident_id_hash=self.cipher.lookup_hash(resident_id, purpose="resident_id"),
                resident_id_masked=mask_resident_id(resident_id),
                name=form.name.strip(),
                phone_enc=self.cipher.encrypt(form.phone, purpose="citizen.phone"),
                phone_hash=phone_hash,
                phone_masked=mask_phone(form.phone),
                home_division=form.home_division,
                birth_date=birth_date(resident_id),
            )
            if row is None:
                raise Conflict("this resident ID or phone number is already registered; sign in instead")
            session_id, pair = await self._open_session(conn, "citizen", row["id"])
            who = Actor(kind="citizen", id=str(row["id"]), request_id=actor.request_id)
            await self.audit.record(conn, who, "citizen.registered", "citizen", str(row["id"]),
                                    division=form.home_division, detail={"session": str(session_id)})
        return pair

    async def card_holder(self, conn: asyncpg.Connection, resident_id: str, name: str,
                          actor: Actor) -> tuple[asyncpg.Record, bool]:
        """The citizen holding this resident ID card, registered now without a phone if new; runs in the
        caller's transaction (a kiosk sign-in whose face matched the card's chip photo). Returns the row
        and whether it was created. The home division is the one the ID number names."""
        resident_id = normalise_resident_id(resident_id)
        lookup = self.cipher.lookup_hash(resident_id, purpose="resident_id")
        row = await repository.citizen_by(conn, "resident_id_hash", lookup)
        if row is not None:
            return row, False
        try:
            home = divisions.check_known_division(resident_id[:6])
        except divisions.InvalidDivision:
            raise ValidationFailed.field("resident_id", "the ID number names no known division; register at a "
                                                        "service window") from None
        row = await repository.insert_citizen(
            conn, resident_id_enc=self.cipher.encrypt(resident_id, purpose="citizen.resident_id"),
            resident_id_hash=lookup, resident_id_masked=mask_resident_id(resident_id), name=name.strip(),
            phone_enc=None, phone_hash=None, phone_masked=None, home_division=home,
            birth_date=birth_date(resident_id))
        if row is None:  # registered by a concurrent sign-in
            return await repository.citizen_by(conn, "resident_id_hash", lookup), False
        who = Actor(kind="citizen", id=str(row["id"]), request_id=actor.request_id, device=actor.device)
        await self.audit.record(conn, who, "citizen.registered", "citizen", str(row["id"]), division=home,
                                detail={"source": "kiosk-id-card", "phone": None})
        return row, True

    async def sign_in_citizen(self, phone: str, code: str, actor: Actor) -> TokenPair:
        phone_hash = await self._consume_code(phone, code)
        async with self.db.transaction() as conn:
            row = await repository.citizen_by(conn, "phone_hash", phone_hash)
            if row is None:
                raise NotFound("no citizen is registered with this phone; register first")
            session_id, pair = await self._open_session(conn, "citizen", row["id"])
            who = Actor(kind="citizen", id=str(row["id"]), request_id=actor.request_id)
            await self.audit.record(conn, who, "session.opened", "auth_session", str(session_id),
                                    division=row["home_division"])
        return pair

    async def sign_in_staff(self, username: str, password: str, client: str, actor: Actor) -> TokenPair:
        # Counted before the password is checked (Argon2 takes a while: concurrent guesses must not all
        # pass a check made before any of them failed), given back if it was right.
        attempt = await self.ephemeral.reserve(
            Limit("staff-sign-in-failures", username, self.limits.sign_in_attempts, self.limits.sign_in_window,
                  "failed sign-in attempts for this account"),
            Limit("staff-sign-in-client", client, self.limits.sign_in_attempts * 6, self.limits.sign_in_window,
                  "failed sign-in attempts from this client"))
        async with self.db.transaction() as conn:
            row = await repository.staff_by_username(conn, username)
            # Argon2 is deliberately slow: keep it off the event loop.
            ok = await asyncio.to_thread(verify_password, row["password_hash"] if row else None, password)
            if row is None or not ok or not row["active"]:
                raise Unauthenticated("wrong username or password")
            await attempt.release()
            session_id, pair = await self._open_session(
                conn, "staff", row["id"], role=row["role"], division=row["division_code"])
            who = Actor(kind="staff", id=str(row["id"]), request_id=actor.request_id, role=row["role"])
            await self.audit.record(conn, who, "session.opened", "auth_session", str(session_id),
                                    division=row["division_code"])
        return pair

    async def refresh(self, refresh_token: str, actor: Actor) -> TokenPair:
        """Rotate a refresh token. Presenting a used one again revokes the whole session."""
        token_hash = opaque_token_hash(refresh_token)
        async with self.db.transaction() as conn:
            row = await repository.take_refresh_token(conn, token_hash)
            now = dt.datetime.now(dt.UTC)
            if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
                raise Unauthenticated("the refresh token is invalid, expired or revoked")
            if row["used_at"] is not None:
                await repository.revoke_session(conn, row["session_id"], "refresh token reused")
                await self.audit.record(conn, actor, "session.revoked", "auth_session",
                                        str(row["session_id"]), detail={"reason": "refresh token reused"})
                revoked = True
            else:
                revoked = False
                await repository.mark_refresh_token_used(conn, token_hash)
                level = row["assurance_level"]
                if row["elevated_at"] is None or (now - row["elevated_at"]).total_seconds() > STEP_UP_SECONDS:
                    level = "L1"
                role = division = None
                if row["principal_kind"] == "staff":
                    staff = await repository.staff_by_id(conn, row["principal_id"])
                    if staff is None or not staff["active"]:
                        raise Unauthenticated("the staff account is disabled")
                    role, division = staff["role"], staff["division_code"]
                pair = await self._issue(conn, row["principal_kind"], row["principal_id"],
                                         row["session_id"], level, role, division)
        if revoked:
            await self.forget_session(str(row["session_id"]))
            raise Unauthenticated("the refresh token was already used; the session has been revoked")
        return pair

    async def sign_out(self, actor: Actor) -> None:
        async with self.db.transaction() as conn:
            await repository.revoke_session(conn, uuid.UUID(actor.session_id), "signed out")
            await self.audit.record(conn, actor, "session.revoked", "auth_session", actor.session_id,
                                    detail={"reason": "signed out"})
        await self.forget_session(actor.session_id)

    async def forget_session(self, session_id: str) -> None:
        """Refuse the session's unexpired access tokens from now on."""
        await self.ephemeral.client.set(self.ephemeral.key("revoked", session_id), 1, ex=self.tokens.lifetime)

    def _staff_status_key(self, staff_id: str) -> str:
        return self.ephemeral.key("staff-active", staff_id)

    async def token_ended(self, claims: AccessClaims) -> str | None:
        """Why an access token no longer counts although it has not expired — its session was signed out
        or revoked, or its staff account is disabled or gone — or None. One Redis round trip; a staff
        account's status comes from the database when Redis does not hold it."""
        keys = [self.ephemeral.key("revoked", claims.session_id)]
        if claims.kind == "staff":
            keys.append(self._staff_status_key(claims.sub))
        revoked, *status = await self.ephemeral.client.mget(keys)
        if revoked is not None:
            return "the session was signed out or revoked"
        if claims.kind == "staff":
            active = status[0] if status[0] is not None else await self._load_staff_status(claims.sub)
            if active != b"1":
                return "the staff account is disabled"
        return None

    async def _load_staff_status(self, staff_id: str) -> bytes:
        async with self.db.connection() as conn:
            row = await repository.staff_by_id(conn, uuid.UUID(staff_id))
        active = b"1" if row is not None and row["active"] else b"0"
        await self.ephemeral.client.set(self._staff_status_key(staff_id), active, ex=STAFF_STATUS_SECONDS)
        return active

    async def elevate(self, conn: asyncpg.Connection, actor: Actor, level: str, method: str) -> TokenPair:
        """Raise the session's assurance after a face check; runs in the caller's transaction.

        A check never lowers a session still within its step-up window (a photo check after a
        liveness check leaves it at L3), and every refresh token issued before it stops working."""
        if actor.session_id is None or actor.kind != "citizen":
            raise Forbidden("only a citizen session can be stepped up")
        row = await repository.elevate_session(conn, uuid.UUID(actor.session_id), level, STEP_UP_SECONDS)
        if row is None:
            raise Unauthenticated("the session is no longer valid")
        # Refresh tokens issued before the check must not mint tokens at the new level.
        await repository.retire_refresh_tokens(conn, row["id"])
        await self.audit.record(conn, actor, "session.elevated", "auth_session", actor.session_id,
                                detail={"level": row["assurance_level"], "checked": level, "method": method})
        return await self._issue(conn, "citizen", row["principal_id"], row["id"], row["assurance_level"], None, None)

    # -- citizens' personal data -----------------------------------------------------------------

    async def my_profile(self, actor: Actor) -> CitizenProfile:
        async with self.db.connection() as conn:
            row = await repository.citizen_by(conn, "id", uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        await self.audit.record_read(actor, "citizen.read", "citizen", actor.id, division=row["home_division"])
        return CitizenProfile(**dict(row))

    async def change_phone(self, actor: Actor, phone: str, code: str) -> CitizenProfile:
        phone_hash = await self._consume_code(phone, code)
        async with self.db.transaction() as conn:
            if await repository.phone_taken(conn, phone_hash):
                raise Conflict("this phone number is already registered")
            row = await repository.update_citizen_phone(
                conn, uuid.UUID(actor.id), self.cipher.encrypt(phone, purpose="citizen.phone"),
                phone_hash, mask_phone(phone))
            if row is None:
                raise NotFound("citizen not found")
            await self.audit.record(conn, actor, "citizen.phone_changed", "citizen", actor.id,
                                    division=row["home_division"], detail={"phone": mask_phone(phone)})
        return CitizenProfile(**dict(row))

    async def staff_read_citizen(
        self, actor: Actor, *, citizen_id: uuid.UUID | None = None, resident_id: str | None = None
    ) -> CitizenProfile:
        """A staff member reads a citizen's record; only within the staff member's division. A citizen
        outside it looks exactly like an unregistered one, and every lookup is audited, found or not."""
        if actor.role not in CITIZEN_READERS:
            raise Forbidden("your role may not read citizens' records")
        if resident_id is not None:
            try:
                resident_id = normalise_resident_id(resident_id)
            except InvalidResidentId as exc:
                raise ValidationFailed.field("resident_id", str(exc)) from None
        async with self.db.connection() as conn:
            if citizen_id is not None:
                row = await repository.citizen_by(conn, "id", citizen_id)
            else:
                row = await repository.citizen_by(
                    conn, "resident_id_hash", self.cipher.lookup_hash(resident_id or "", purpose="resident_id"))
        asked = str(row["id"]) if row is not None else str(citizen_id) if citizen_id is not None else None
        row = await reachable(
            self.audit, self.db, actor, row, row is not None and divisions.within(actor.division or "",
                                                                                  row["home_division"]),
            refused="citizen.read_refused", record_type="citizen", record_id=asked, missing="no such citizen",
            detail={"resident_id": mask_resident_id(resident_id)} if resident_id is not None else None)
        await self.audit.record_read(actor, "citizen.read", "citizen", str(row["id"]), division=row["home_division"])
        return CitizenProfile(**dict(row))

    # -- staff accounts -------------------------------------------------------------------------

    async def disable_staff(self, actor: Actor, *, staff_id: uuid.UUID | None = None,
                            username: str | None = None) -> StaffAccount:
        """Disable a staff account and end its sessions at once: its access tokens stop working on the next
        request, its refresh tokens and password no longer sign in. An admin disables accounts inside
        their division (others look missing); the command line any."""
        async with self.db.transaction() as conn:
            row = await (repository.staff_by_id(conn, staff_id) if staff_id is not None
                         else repository.staff_by_username(conn, username or ""))
            reaches = row is not None and (actor.kind == "system" or (
                actor.role == "admin" and divisions.within(actor.division or "", row["division_code"])))
            row = await reachable(self.audit, self.db, actor, row, reaches, refused="staff.disable_refused",
                                  record_type="staff", record_id=str(row["id"] if row else staff_id or username),
                                  missing="no such staff account")
            if actor.kind == "staff" and actor.id == str(row["id"]):
                raise Conflict("you cannot disable your own account; ask another admin")
            account = await repository.disable_staff(conn, row["id"])
            ended = await repository.revoke_sessions_of(conn, "staff", row["id"], "staff account disabled")
            await self.audit.record(conn, actor, "staff.disabled", "staff", str(row["id"]),
                                    division=row["division_code"], detail={"sessions_ended": len(ended)})
        await self.ephemeral.client.set(self._staff_status_key(str(row["id"])), b"0", ex=STAFF_STATUS_SECONDS)
        for session_id in ended:
            await self.forget_session(str(session_id))
        return StaffAccount(**dict(account))

    async def create_staff(self, form: StaffCreate, actor: Actor) -> StaffAccount:
        """Create a staff account; an admin can only create accounts inside their own division."""
        try:
            divisions.check_division(form.division_code, allow_national=True)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division_code", str(exc)) from None
        if actor.kind == "staff" and (actor.role != "admin" or not divisions.within(actor.division or "", form.division_code)):
            raise OutsideDivision("an admin can only create staff inside their own division")
        async with self.db.transaction() as conn:
            row = await repository.insert_staff(
                conn, username=form.username, display_name=form.display_name,
                password_hash=await asyncio.to_thread(hash_password, form.password), role=form.role, division_code=form.division_code)
            if row is None:
                raise Conflict(f"username {form.username} is taken")
            await self.audit.record(conn, actor, "staff.created", "staff", str(row["id"]),
                                    division=form.division_code, detail={"role": form.role})
        return StaffAccount(**dict(row))
