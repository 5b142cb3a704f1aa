"""Wire shapes of kiosks: registration, configuration, health and heartbeats, the staff view."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.identifiers import RESIDENT_ID, TOKEN_43, VISIBLE, DivisionCode, whole

Capability = Literal["reader", "camera", "printer", "scanner"]
CAPABILITIES: tuple[Capability, ...] = ("reader", "camera", "printer", "scanner")
Task = Literal["certificates", "pension", "apply", "cases"]
TASKS: tuple[Task, ...] = ("certificates", "pension", "apply", "cases")
KioskStatus = Literal["active", "revoked"]
PublicKey = Annotated[str, msgspec.Meta(
    pattern=TOKEN_43, examples=["JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"],
    description="The device's Ed25519 public key: 32 bytes, unpadded base64url (a JWK's `x`). The "
                "device makes the key pair itself; its private half never leaves it")]


class KioskConfiguration(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the kiosk is told with each heartbeat answer (remote configuration)."""

    idle_timeout_seconds: Annotated[int, msgspec.Meta(
        ge=30, le=900, description="A resident's session ends after this long without a touch")] = 120
    idle_warning_seconds: Annotated[int, msgspec.Meta(
        ge=10, le=120, description="Warned (on screen and spoken) this long before; any touch extends")] = 30
    enabled_tasks: Annotated[list[Task], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
        default_factory=lambda: list(TASKS))
    language: Literal["zh", "en"] = "zh"
    font_scale: Annotated[float, msgspec.Meta(ge=1.0, le=1.6, description="1.0: 24 px body text")] = 1.0
    heartbeat_seconds: Annotated[int, msgspec.Meta(ge=15, le=600)] = 60


class KioskRegistration(msgspec.Struct, forbid_unknown_fields=True):
    division_code: DivisionCode
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=VISIBLE,
                                         examples=["杭州市西湖区转塘街道便民服务中心一楼"])]
    capabilities: Annotated[list[Capability], msgspec.Meta(min_length=1, max_length=4)]
    public_key: PublicKey
    configuration: KioskConfiguration | None = None


class KioskRevocation(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=VISIBLE, examples=["device stolen"])]


class KioskRekey(msgspec.Struct, forbid_unknown_fields=True):
    public_key: PublicKey


DeviceState = Literal["ok", "offline", "absent"]


class PrinterHealth(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["ok", "out-of-paper", "paper-jam", "offline", "absent"]
    sheets_left: Annotated[int, msgspec.Meta(ge=0, le=100000)] | None = None


class KioskHealth(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the device reports of its peripherals."""

    reader: DeviceState = "absent"
    camera: DeviceState = "absent"
    scanner: DeviceState = "absent"
    printer: PrinterHealth = msgspec.field(default_factory=lambda: PrinterHealth(status="absent"))
    agent_version: Annotated[str, msgspec.Meta(max_length=32, pattern=whole(r"[0-9A-Za-z._+-]*"))] = ""


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    health: KioskHealth


class HeartbeatAnswer(msgspec.Struct):
    kiosk_id: uuid.UUID
    status: KioskStatus
    configuration: KioskConfiguration
    server_time: dt.datetime
    pending_print_jobs: int


class KioskView(msgspec.Struct):
    id: uuid.UUID
    key_id: Annotated[str, msgspec.Meta(description="The `keyid` the device signs with")]
    division_code: str
    address: str
    capabilities: list[Capability]
    status: KioskStatus
    public_key: str
    key_fingerprint: str
    key_version: int
    configuration: KioskConfiguration
    health: KioskHealth | None
    last_heartbeat_at: dt.datetime | None
    silent: Annotated[bool, msgspec.Meta(description="No heartbeat for three heartbeat intervals (or never)")]
    registered_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_reason: str | None = None


# -- residents at a kiosk -------------------------------------------------------------------------

EndReason = Literal["card-removed", "idle-timeout", "signed-out", "kiosk-revoked", "replaced"]
ResidentIdInput = Annotated[str, msgspec.Meta(min_length=18, max_length=18, pattern=RESIDENT_ID,
                                              examples=["11010519491231002X"])]


class CardRead(msgspec.Struct, forbid_unknown_fields=True):
    """What the ID-card reader read from the chip (the photo travels beside it as a file)."""

    resident_id: ResidentIdInput
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=VISIBLE, examples=["李秀英"])]
    valid_until: Annotated[dt.date | None, msgspec.Meta(description="The card's last day; None: long-term (长期)")]


class KioskResident(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(description="masked (`陈*`): a kiosk's screen and speaker are in a public room")]
    resident_id_masked: str
    has_phone: bool
    face_enrolled: bool


class KioskSignIn(msgspec.Struct):
    """A resident's session at this kiosk: only this device, signing each request, can use it."""

    session_id: uuid.UUID
    resident: KioskResident
    assurance_level: Literal["L2"]
    new_resident: Annotated[bool, msgspec.Meta(description="Registered now, from the card, without a phone")]
    idle_timeout_seconds: int
    idle_warning_seconds: int
    capture: str


class KioskAssistant(msgspec.Struct):
    """Who operates the kiosk for the resident now (帮办), as the screen's banner names them."""

    kind: Literal["staff"]
    display_name: Annotated[str, msgspec.Meta(examples=["浙江收件窗口"])]


class KioskSessionState(msgspec.Struct):
    session_id: uuid.UUID
    resident: KioskResident
    assisted_by: Annotated[str | None, msgspec.Meta(description="`staff:<id>` while a staff member assists")]
    assistant: KioskAssistant | None
    idle_timeout_seconds: int
    idle_warning_seconds: int
    seconds_left: int


class StaffAssistance(msgspec.Struct, forbid_unknown_fields=True):
    """A staff member operates the kiosk for the resident (帮办): they sign in with their own account."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


# -- printing ---------------------------------------------------------------------------------------

PrintStatus = Literal["queued", "printing", "waiting", "printed", "failed", "cancelled"]
WaitingReason = Literal["out-of-paper", "paper-jam", "printer-offline"]


class PrintRequest(msgspec.Struct, forbid_unknown_fields=True):
    document_kind: Literal["certificate", "case-receipt"]
    document_id: uuid.UUID
    copies: Annotated[int, msgspec.Meta(ge=1, le=3)] = 1


class PrintJobView(msgspec.Struct):
    id: uuid.UUID
    document_kind: str
    document_id: str
    copies: int
    status: PrintStatus
    waiting_reason: WaitingReason | None
    attempts: int
    created_at: dt.datetime
    printed_at: dt.datetime | None


class PrintOutcome(msgspec.Struct, forbid_unknown_fields=True):
    """What the device's printer did with the job."""

    outcome: Literal["printed", "out-of-paper", "paper-jam", "printer-offline", "failed"]
