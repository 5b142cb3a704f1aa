"""Hand-over exchange records of a case: their canonical bytes, signing, and the offline check of a
case's whole chain. Pure functions, no database — another province's system, or an auditor with an
exported file, runs `verify_chain` as it is. The format is specified byte for byte in docs/cases.md
("Exchange records"); tests/cases/test_exchange_records.py regenerates its worked example.

A chain alternates a hand-over (of the case, or of its result on the way back), signed by the sending
province's case-exchange key, and its countersign (acceptance or refusal), signed by the receiving
province's key. In 多地联办, the place holding the accepted case also signs a share of it with each
coordinating division, which signs its task done. Each entry names the SHA-256 of the previous entry's
bytes (`prev`), so an entry cannot be altered, dropped or moved without the next one showing it.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.certificates.qr_format import key_id
from backend.certificates.trust_lists import TrustedKey, TrustList, b64url, from_b64url
from backend.certificates.verifier import CLOCK_SKEW_SECONDS
from backend.identifiers import DIVISION, EXCHANGE_CASE, KEY_ID, ROLE, SHA256_HEX, UTC_SECOND
from backend.identity.divisions import province_of

RECORD_TYPE = "tongban-case-exchange"
BUNDLE_TYPE = "tongban-case-exchanges"
FORMAT_VERSION = 1
GENESIS = "0" * 64  # the `prev` of a case's first entry
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Every text in a record is ASCII without `"` or `\`, so its JSON needs no escaping and the canonical
# bytes below are the same as RFC 8785 (JCS) gives. The patterns (backend/identifiers.py) take ASCII
# digits only and no final newline: a look-alike would need escaping and could name another case.
CaseNumber = Annotated[str, msgspec.Meta(pattern=EXCHANGE_CASE)]
DivisionCode = Annotated[str, msgspec.Meta(pattern=DIVISION)]
Digest = Annotated[str, msgspec.Meta(pattern=SHA256_HEX)]
Role = Annotated[str, msgspec.Meta(pattern=ROLE)]
Timestamp = Annotated[str, msgspec.Meta(pattern=UTC_SECOND)]
Kid = Annotated[str, msgspec.Meta(pattern=KEY_ID)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class _Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    """What every record of a case's chain carries (bodies are signed as canonical JSON, keys sorted)."""

    type: Literal["tongban-case-exchange"]
    v: Literal[1]
    case: CaseNumber
    seq: Seq
    prev: Digest
    at: Timestamp
    role: Role
    kid: Kid


class _Sent(_Record):
    """Something of the case goes from `from` to `to`, signed by `from`'s province."""

    from_: DivisionCode = msgspec.field(name="from")
    to: DivisionCode


class _Transfer(_Sent):
    """The case, or its result, leaves `from` for `to`; `to` countersigns next."""


class Handover(_Transfer, tag="handover"):
    """The case leaves `from` for `to`, with exactly this form and these materials."""

    form: Digest
    materials: list[Digest]


class ResultHandover(_Transfer, tag="result"):
    """The decided case's result leaves the handling place `from` for the receiving place `to`, which
    gives it to the applicant: `result` is the digest of the decision (`result_digest`)."""

    decision: Literal["approved"]
    result: Digest


class Countersign(_Record, tag="acceptance"):
    """The receiving division's answer to the hand-over just before it."""

    division: DivisionCode
    outcome: Literal["accepted", "refused"]


class Share(_Sent, tag="share"):
    """多地联办: the handling place `from`, holding the accepted case, shares exactly this form and these
    materials with the coordinating division `to` for its coordination task. The case stays with `from`."""

    form: Digest
    materials: list[Digest]


class TaskDone(_Record, tag="task-done"):
    """The coordinating `division` reports its task done: the answer to the share at position `share`."""

    division: DivisionCode
    share: Seq


Entry = Handover | ResultHandover | Countersign | Share | TaskDone


def canonical(body: dict[str, Any]) -> bytes:
    """The signed bytes: JSON, members sorted by name, no whitespace, ASCII."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def form_digest(form: dict[str, Any]) -> bytes:
    """SHA-256 of an application form as canonical JSON (members sorted, no whitespace, UTF-8)."""
    return hashlib.sha256(json.dumps(form, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).digest()


def material_digest(data: bytes) -> bytes:
    """SHA-256 of a material's plaintext bytes: what the receiver can recompute from the file itself."""
    return hashlib.sha256(data).digest()


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime(TIME_FORMAT)


def handover_body(*, case_number: str, seq: int, prev: bytes | None, at: dt.datetime, from_division: str,
                  to_division: str, role: str, form: bytes, materials: Sequence[bytes], kid: bytes,
                  kind: Literal["handover", "share"] = "handover") -> dict[str, Any]:
    """A hand-over of the case, or (`kind="share"`) its sharing with a coordinating division: the same members."""
    return {"type": RECORD_TYPE, "v": FORMAT_VERSION, "kind": kind, "case": case_number, "seq": seq,
            "prev": prev.hex() if prev else GENESIS, "at": timestamp(at), "from": from_division, "to": to_division,
            "role": role, "form": form.hex(), "materials": sorted(m.hex() for m in materials), "kid": b64url(kid)}


def result_digest(*, case_number: str, decision: str, reasons: Sequence[str], decided_at: dt.datetime,
                  certificate: bytes | None) -> bytes:
    """SHA-256 of the decision as canonical JSON, exactly as `form_digest` takes a form's: the case number,
    the decision, its reasons, when it was made, and the SHA-256 of the e-certificate's QR text when the
    result is one (else null)."""
    return form_digest({"case": case_number, "decision": decision, "reasons": list(reasons),
                        "decided_at": timestamp(decided_at), "certificate": certificate.hex() if certificate else None})


def result_body(*, case_number: str, seq: int, prev: bytes, at: dt.datetime, from_division: str, to_division: str,
                role: str, decision: str, result: bytes, kid: bytes) -> dict[str, Any]:
    return {"type": RECORD_TYPE, "v": FORMAT_VERSION, "kind": "result", "case": case_number, "seq": seq,
            "prev": prev.hex(), "at": timestamp(at), "from": from_division, "to": to_division, "role": role,
            "decision": decision, "result": result.hex(), "kid": b64url(kid)}


def countersign_body(*, case_number: str, seq: int, prev: bytes, at: dt.datetime, division: str, role: str,
                     outcome: str, kid: bytes) -> dict[str, Any]:
    return {"type": RECORD_TYPE, "v": FORMAT_VERSION, "kind": "acceptance", "case": case_number, "seq": seq,
            "prev": prev.hex(), "at": timestamp(at), "division": division, "role": role, "outcome": outcome,
            "kid": b64url(kid)}


def task_done_body(*, case_number: str, seq: int, prev: bytes, at: dt.datetime, division: str, role: str, share: int,
                   kid: bytes) -> dict[str, Any]:
    return {"type": RECORD_TYPE, "v": FORMAT_VERSION, "kind": "task-done", "case": case_number, "seq": seq,
            "prev": prev.hex(), "at": timestamp(at), "division": division, "role": role, "share": share,
            "kid": b64url(kid)}


def parse(body: bytes) -> Entry:
    """A record's body, checked for shape and for being exactly canonical; `ValueError` otherwise."""
    try:
        entry = msgspec.json.decode(body, type=Entry)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(f"not an exchange record: {exc}") from None
    if canonical(json.loads(body)) != body:
        raise ValueError("not in canonical form (member order, whitespace or escaping differs)")
    try:
        _epoch(entry.at)
    except ValueError:  # the pattern lets through a 30 February or a thirteenth month
        raise ValueError(f"{entry.at} is no time on the calendar") from None
    if isinstance(entry, Handover | Share) and entry.materials != sorted(entry.materials):
        raise ValueError("material digests are not in ascending order")
    return entry


@dataclass(frozen=True, slots=True)
class SignedEntry:
    body: bytes
    signature: bytes


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> SignedEntry:
    """The canonical bytes of `body` with its Ed25519 signature; `kid` in the body must be the key's."""
    if body["kid"] != b64url(key_id(key.public_key())):
        raise ValueError("the body names another key")
    data = canonical(body)
    return SignedEntry(data, key.sign(data))


# -- the offline check ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainVerdict:
    """The answer for a case's chain: `ok`, or the first entry (1-based `position`) that does not fit."""

    ok: bool
    case_number: str
    entries: int                 # entries verified (before the failing one)
    reason: str | None = None    # machine-readable, see docs/cases.md
    detail: str | None = None
    position: int | None = None
    holder: str | None = None    # the division holding the case after the last verified entry
    warnings: list[str] = field(default_factory=list)


class ChainRuleBroken(Exception):
    """An entry does not fit the chain before it: `reason` is the machine-readable name (docs/cases.md)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _epoch(text: str) -> int:
    return int(dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=dt.UTC).timestamp())


def _signer(entry: Entry, signed: SignedEntry, trust: TrustList) -> TrustedKey:
    """The trusted key of the right province that made this signature, or why there is none."""
    province = province_of(entry.from_ if isinstance(entry, _Sent) else entry.division)
    try:
        kid = from_b64url(entry.kid)
    except (binascii.Error, ValueError):
        raise ChainRuleBroken("unknown-key", f"kid {entry.kid!r} is not base64url") from None
    keys = [k for k in trust.candidates(kid) if k.jwk.purpose == "case-exchange"]
    if not keys:
        raise ChainRuleBroken("unknown-key", f"no case-exchange key {entry.kid} in the trust list (never published, "
                              "or withdrawn)")
    allowed = [k for k in keys if k.jwk.division == province]
    if not allowed:
        owners = ", ".join(sorted({k.jwk.division for k in keys}))
        if isinstance(entry, _Sent):
            what = {Share: "share", ResultHandover: "result hand-over"}.get(type(entry), "hand-over")
            raise ChainRuleBroken("key-not-allowed", f"the {what} from {entry.from_} is signed with a key of province "
                                  f"{owners}; only a case-exchange key of {province} may sign it")
        raise ChainRuleBroken("wrong-countersigner", f"the answer of {entry.division} is signed with a key of province "
                              f"{owners}; its own province {province} must countersign it")
    for key in allowed:
        try:
            key.public_key.verify(signed.signature, signed.body)
        except InvalidSignature:
            continue
        return key
    raise ChainRuleBroken("bad-signature", f"the signature does not verify with {province}'s key {entry.kid}: the "
                          "record was altered after it was signed")


def check_link(position: int, entry: Entry, previous_digest: bytes | None, case_number: str) -> None:
    """The entry belongs to this case, at this position, after the entry whose digest is given."""
    if entry.case != case_number:
        raise ChainRuleBroken("wrong-case", f"the entry belongs to case {entry.case}, not {case_number}")
    if entry.seq != position:
        what = (f"entry {position} is missing" if entry.seq > position
                else "entries are out of order or repeated")
        raise ChainRuleBroken("out-of-order", f"entry at position {position} says it is entry {entry.seq}: {what}")
    expected = previous_digest.hex() if previous_digest else GENESIS
    if entry.prev != expected:
        raise ChainRuleBroken("broken-link", f"prev is {entry.prev[:16]}…, but the entry before hashes to "
                              f"{expected[:16]}…")


@dataclass
class Standing:
    """Where a case's chain stands after its entries so far, and the rules the next entry must keep: who
    holds the case and through which hand-over, the hand-over awaiting its countersign, the last
    countersigned one with its outcome, and the 多地联办 shares, with those whose task is done. The offline
    check and the service that writes entries apply the same rules: `check` the next entry, then `take` it."""

    holder: str | None = None            # the receiver of the last accepted hand-over (the first sender before)
    received: Handover | None = None     # the accepted hand-over through which the holder has the case
    awaiting: _Transfer | None = None    # a hand-over (or result) not yet countersigned
    answered: tuple[_Transfer, str] | None = None   # the last countersigned one and its outcome
    shares: dict[int, Share] = field(default_factory=dict)   # by position
    done: set[int] = field(default_factory=set)             # positions of shares whose task is done
    ended: bool = False                  # the result's countersign is in: nothing follows
    last: Entry | None = None

    @classmethod
    def of(cls, case_number: str, entries: Sequence[tuple[Entry, bytes]]) -> Standing:
        """The standing after a stored chain's `entries` (each with its digest), checked entry by entry as
        the offline check does, signatures aside: `ChainRuleBroken` names the first that does not fit."""
        standing, previous_digest = cls(), None
        for position, (entry, entry_digest) in enumerate(entries, start=1):
            check_link(position, entry, previous_digest, case_number)
            standing.check(entry)
            standing.take(entry)
            previous_digest = entry_digest
        return standing

    def open_shares(self) -> list[Share]:
        return [share for seq, share in self.shares.items() if seq not in self.done]

    def check(self, entry: Entry) -> None:
        """`ChainRuleBroken` unless `entry` may follow the chain so far."""
        if self.ended:
            raise ChainRuleBroken("after-result", "nothing follows the countersign of the case's result")
        if isinstance(entry, Countersign):
            if self.awaiting is None:
                raise ChainRuleBroken("unexpected-countersign", "a countersign that follows no hand-over")
            if entry.division != self.awaiting.to:
                raise ChainRuleBroken("wrong-countersigner", f"countersigned for {entry.division}, but the case was "
                                      f"handed to {self.awaiting.to}")
        else:
            if self.awaiting is not None:
                raise ChainRuleBroken("missing-countersign", f"the hand-over to {self.awaiting.to} awaits its "
                                      "countersign")
            if isinstance(entry, _Sent):
                if entry.from_ == entry.to:
                    raise ChainRuleBroken("wrong-sender", f"from {entry.from_} to itself")
                if self.holder is not None and entry.from_ != self.holder:
                    raise ChainRuleBroken("wrong-sender", f"sent by {entry.from_}, but the case is held by "
                                          f"{self.holder}")
            if isinstance(entry, _Transfer) and (pending := self.open_shares()):
                raise ChainRuleBroken("open-share", "the case or its result moves on while the coordination task of "
                                      + ", ".join(f"{s.to} (entry {s.seq})" for s in pending) + " is not done")
            if isinstance(entry, ResultHandover):
                self._check_result(entry)
            elif isinstance(entry, Share):
                self._check_share(entry)
            elif isinstance(entry, TaskDone):
                share = self.shares.get(entry.share)
                if share is None or share.to != entry.division or entry.share in self.done:
                    raise ChainRuleBroken("unexpected-task-done", f"{entry.division} reports a task done for entry "
                                          f"{entry.share}, which is no open share with it")
        if self.last is not None and _epoch(entry.at) < _epoch(self.last.at) - CLOCK_SKEW_SECONDS:
            raise ChainRuleBroken("time-reversed", f"dated {entry.at}, before the entry it follows ({self.last.at})")

    def _accepted_hand_over(self) -> Handover | None:
        """The hand-over of the case itself that its holder accepted, when that is the last countersigned."""
        if self.answered is None:
            return None
        transfer, outcome = self.answered
        return transfer if isinstance(transfer, Handover) and outcome == "accepted" else None

    def _check_result(self, entry: ResultHandover) -> None:
        handover = self._accepted_hand_over()
        if handover is None or entry.to != handover.from_:
            raise ChainRuleBroken("unexpected-result", "a result goes back only from the handling place that accepted "
                                  "the case's hand-over, to the division that handed it over")

    def _check_share(self, entry: Share) -> None:
        if self.received is None:
            raise ChainRuleBroken("unexpected-share", "a case is shared for coordination only by the place holding "
                                  "it through an accepted hand-over")
        if (entry.form, entry.materials) != (self.received.form, self.received.materials):
            raise ChainRuleBroken("unexpected-share", "the share names another form or other materials than the "
                                  "hand-over its sender accepted")
        if any(share.to == entry.to for share in self.shares.values()):
            raise ChainRuleBroken("unexpected-share", f"the case is shared with {entry.to} already")

    def take(self, entry: Entry) -> None:
        """The standing after `entry` (checked, or read from a chain the service wrote)."""
        if isinstance(entry, _Transfer):
            self.awaiting = entry
            self.holder = self.holder or entry.from_
        elif isinstance(entry, Countersign) and self.awaiting is not None:
            self.answered = (self.awaiting, entry.outcome)
            if entry.outcome == "accepted":
                self.holder = entry.division
                self.received = self.awaiting if isinstance(self.awaiting, Handover) else None
            self.ended = isinstance(self.awaiting, ResultHandover)
            self.awaiting = None
        elif isinstance(entry, Share):
            self.shares[entry.seq] = entry
        elif isinstance(entry, TaskDone):
            self.done.add(entry.share)
        self.last = entry


def verify_chain(case_number: str, entries: Sequence[SignedEntry], trust: TrustList,
                 at: dt.datetime | float | None = None) -> ChainVerdict:
    """Check a case's whole chain, in the order given, against a trust list already checked against
    the pinned anchors (`read_trust_list`). Records do not expire: an outdated list is used with a
    warning (it may still trust a key withdrawn since)."""
    now = at.timestamp() if isinstance(at, dt.datetime) else (dt.datetime.now(dt.UTC).timestamp() if at is None
                                                                  else at)
    warnings = ["trust-list-outdated"] if now > trust.document.next_update else []
    standing = Standing()
    previous_digest: bytes | None = None
    for position, signed in enumerate(entries, start=1):
        try:
            try:
                entry = parse(signed.body)
            except ValueError as exc:
                raise ChainRuleBroken("malformed", str(exc)) from None
            check_link(position, entry, previous_digest, case_number)
            standing.check(entry)
            key = _signer(entry, signed, trust)
            signed_at = _epoch(entry.at)
            jwk = key.jwk
            if signed_at < jwk.valid_from - CLOCK_SKEW_SECONDS or (
                    jwk.signing_until is not None and signed_at > jwk.signing_until + CLOCK_SKEW_SECONDS):
                raise ChainRuleBroken("key-not-in-service", f"dated {entry.at}, when key {entry.kid} was not in "
                                      "service")
        except ChainRuleBroken as refusal:
            return ChainVerdict(False, case_number, position - 1, refusal.reason, refusal.detail, position,
                                standing.holder, warnings)
        standing.take(entry)
        previous_digest = digest(signed.body)
    return ChainVerdict(True, case_number, len(entries), holder=standing.holder, warnings=warnings)


# -- the export file ------------------------------------------------------------------------------

class ExchangeBundleEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    body: str        # the record's canonical JSON, as text
    signature: str   # base64url of the 64-byte Ed25519 signature


class ExchangeBundle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What `tongban cases export-exchanges` writes: the chain and the signed trust list it verifies
    against (a verifier still checks the list with anchors it pinned itself)."""

    type: Literal["tongban-case-exchanges"]
    case: str
    entries: list[ExchangeBundleEntry]
    trust_list: str


def bundle_of(case_number: str, entries: Sequence[SignedEntry], trust_list: str) -> ExchangeBundle:
    return ExchangeBundle(BUNDLE_TYPE, case_number,
                          [ExchangeBundleEntry(e.body.decode("ascii"), b64url(e.signature)) for e in entries], trust_list)


def decode_bundle(data: bytes) -> tuple[str, list[SignedEntry], str]:
    """(case number, entries, signed trust list) from an export file; `ValueError` if it is not one."""
    try:
        bundle = msgspec.json.decode(data, type=ExchangeBundle)
        entries = [SignedEntry(e.body.encode("ascii"), from_b64url(e.signature)) for e in bundle.entries]
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"not an exchange export: {exc}") from None
    return bundle.case, entries, bundle.trust_list
