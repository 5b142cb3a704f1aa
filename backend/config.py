"""Typed settings read once from the environment.

Every secret has a development default so a fresh clone runs; production mode refuses to start while
any of those defaults is still in use.
"""

from __future__ import annotations

import base64
import os
from typing import Literal

import msgspec

from backend.events.targets import parse_networks

Mode = Literal["development", "test", "production"]

# Development defaults: public, deterministic, and therefore refused in production.
DEV_SECRETS = {
    "jwt_secret": "dev-only-jwt-secret-change-me-0123456789abcdef",
    "pii_key": base64.b64encode(b"dev-only-pii-encryption-key-32b!").decode(),
    "pii_hash_key": base64.b64encode(b"dev-only-pii-lookup-hash-key-32b").decode(),
    "audit_key": base64.b64encode(b"dev-only-audit-chain-hmac-key-32").decode(),
    "signing_key_kek": base64.b64encode(b"dev-only-signing-key-wrap-key-32").decode(),
    "audit_checkpoint_key": base64.b64encode(b"dev-only-audit-checkpoint-seed32").decode(),
}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable service."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    mode: Mode = "development"
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: str = "var"
    host: str = "127.0.0.1"
    port: int = 8000
    # Asked to stop, a worker lets the requests it is answering finish, this long at most, before it
    # closes the pools they use (a rolling restart loses none of them).
    stop_grace_seconds: float = 20.0
    jwt_secret: str = DEV_SECRETS["jwt_secret"]
    pii_key: str = DEV_SECRETS["pii_key"]
    pii_hash_key: str = DEV_SECRETS["pii_hash_key"]
    audit_key: str = DEV_SECRETS["audit_key"]
    signing_key_kek: str = DEV_SECRETS["signing_key_kek"]
    # The Ed25519 private key (32-byte seed) that signs audit checkpoints (docs/security.md, "Audit chain").
    audit_checkpoint_key: str = DEV_SECRETS["audit_checkpoint_key"]
    # Public keys that signed earlier checkpoints (rotated out): the JWK `x` of each, comma-separated.
    audit_checkpoint_retired_keys: str = ""
    access_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    otp_seconds: int = 300
    code_resend_seconds: int = 60
    max_body_bytes: int = 8 * 1024 * 1024
    redis_prefix: str = "tb:"
    db_pool_min: int = 1
    db_pool_max: int = 10
    log_level: str = "INFO"
    trust_list_seconds: int = 24 * 3600
    revocation_list_seconds: int = 3600
    # Face verification (docs/face-verification.md).
    face_model_dir: str = ""  # empty: <data_dir>/models; made absolute by load_settings
    face_threshold: float = 0.50  # cosine similarity for "same person"; see the docs for the evidence
    face_burst_threshold: float = 0.40  # each liveness frame against the burst's first frame
    face_workers: int = 0  # inference threads; 0: one per core
    face_onnx_threads: int = 1  # onnxruntime intra-op threads per inference
    face_queue: int = 0  # images allowed to wait for a thread; 0: sixteen per thread; beyond: 503
    face_max_image_bytes: int = 4 * 1024 * 1024
    face_max_image_pixels: int = 4_000_000  # decoded (a JPEG after libjpeg's reduction)
    face_max_frame_pixels: int = 2_000_000  # each liveness frame, decoded
    face_min_face_pixels: int = 80
    face_challenge_seconds: int = 120
    face_attempts_per_citizen_hour: int = 10
    face_attempts_per_citizen_day: int = 20  # the daily cap beside the hourly limits
    face_attempts_per_device_hour: int = 30  # only when the client names a device (a hint)
    face_attempts_per_kiosk_hour: int = 600  # a registered kiosk serves a queue of residents (per-person limits stand)
    face_attempts_per_session_hour: int = 5
    face_attempts_per_address_hour: int = 300  # high: many people share one address behind a NAT
    face_dispute_retention_days: int = 0  # 0: photos are never kept
    face_card_threshold: float = 0.50  # live photo against the ID card's chip photo; evidence in the docs
    # Attested captures (docs/face-verification.md). Lists are comma-separated; an empty app list turns
    # that platform's attestation off. Roots: empty means the real ones shipped in backend/face/data.
    face_android_attestation_roots: str = ""  # PEM bundle of Google hardware-attestation roots
    face_android_packages: str = ""  # our app's package name(s)
    face_android_signing_digests: str = ""  # SHA-256 (hex) of our app's signing certificate(s)
    face_android_revoked_serials: str = ""  # hex serials of attestation certificates Google revoked
    face_app_attest_root: str = ""  # PEM of Apple's App Attestation root
    face_apple_app_ids: str = ""  # "<team id>.<bundle id>"
    face_app_attest_environments: str = "production"  # and/or "development"
    face_installation_nonce_seconds: int = 300
    # Which captures each use accepts: "use=class,class;…", classes unattested, attested, kiosk.
    face_capture_policies: str = ("face-l3=unattested,attested,kiosk;bank-account-change=attested,kiosk;"
                                  "pension-recognition=unattested,attested,kiosk")
    # Events and the worker (docs/events.md).
    events_max_attempts: int = 15  # then the delivery is dead (dead letter), until redelivered
    events_retry_base_seconds: float = 10.0  # back-off after the first failure; doubles each time
    events_retry_max_seconds: float = 3600.0
    events_http_timeout_seconds: float = 10.0
    events_lease_seconds: float = 60.0  # a claimed delivery's lease; must exceed the HTTP timeout
    events_batch: int = 100  # deliveries claimed at once
    events_concurrency: int = 16  # webhook requests in flight per worker
    events_poll_seconds: float = 1.0  # how often an idle worker looks for due work (besides NOTIFY)
    events_retention_days: int = 400  # events and their delivery log are kept this long
    # Webhook targets (docs/events.md, "Where events may go"): non-public addresses (loopback, private,
    # link-local, …) are refused unless listed in events_private_networks (CIDR ranges, comma-separated).
    # Unset: refused in production only (development's and the tests' receivers run on this machine).
    events_refuse_private_targets: bool | None = None
    events_private_networks: str = ""
    # Kiosks (docs/kiosk.md): a signed request's `created` may differ this much from the server's clock.
    kiosk_signature_window_seconds: int = 60
    kiosk_demo_device: bool = False  # development: run the demo kiosk's device (simulator) inside the server
    # Data-sharing gateway (docs/data-sharing.md): the longest any provider may take to answer (each
    # provider's own declared timeout applies below it), and how long an evidence preview waits.
    provider_timeout_seconds: float = 2.0
    preview_seconds: int = 3 * 24 * 3600
    shared_evidence_days: int = 30
    # Citizens' materials (docs/cases.md, "Materials"): one file per upload request (the upload route
    # takes bodies this large plus its form fields, whatever max_body_bytes says), and the case limits.
    material_max_bytes: int = 8 * 1024 * 1024
    material_max_pixels: int = 25_000_000  # decoded, in full
    material_max_pages: int = 200
    material_case_max_bytes: int = 64 * 1024 * 1024
    material_case_max_files: int = 40

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    def secret_bytes(self, name: str) -> bytes:
        """A base64-encoded 32-byte key from the settings, checked for length."""
        raw = base64.b64decode(getattr(self, name))
        if len(raw) != 32:
            raise ConfigError(f"TONGBAN_{name.upper()} must be 32 bytes, base64-encoded")
        return raw

    def retired_checkpoint_keys(self) -> list[bytes]:
        """The raw 32-byte public keys of TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS (base64url, as a JWK's `x`)."""
        keys = []
        for text in filter(None, (part.strip() for part in self.audit_checkpoint_retired_keys.split(","))):
            try:
                raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ConfigError(f"TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS: {text!r} is not a 32-byte Ed25519 "
                                  "public key in base64url (the `x` of its JWK)")
            keys.append(raw)
        return keys

    def check(self) -> None:
        """Refuse a production start on development secrets or missing servers."""
        for name in ("pii_key", "pii_hash_key", "audit_key", "signing_key_kek", "audit_checkpoint_key"):
            self.secret_bytes(name)
        retired = self.retired_checkpoint_keys()
        if self.events_lease_seconds <= self.events_http_timeout_seconds:
            raise ConfigError("TONGBAN_EVENTS_LEASE_SECONDS must exceed TONGBAN_EVENTS_HTTP_TIMEOUT_SECONDS")
        try:
            parse_networks(self.events_private_networks)
        except ValueError as exc:
            raise ConfigError(f"TONGBAN_EVENTS_PRIVATE_NETWORKS: {exc}") from None
        if not self.is_production:
            return
        still_default = [n for n, v in DEV_SECRETS.items() if getattr(self, n) == v]
        if still_default:
            names = ", ".join(f"TONGBAN_{n.upper()}" for n in still_default)
            raise ConfigError(f"production mode refuses development secrets: set {names}")
        if self.kiosk_demo_device:
            raise ConfigError("production mode never runs the simulated demo kiosk (TONGBAN_KIOSK_DEMO_DEVICE)")
        if _dev_checkpoint_public_key() in retired:
            # Its private half is public: anyone could sign a "retired" checkpoint with it.
            raise ConfigError("production mode refuses the development checkpoint key among "
                              "TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS")
        if len(self.jwt_secret) < 32:
            raise ConfigError("TONGBAN_JWT_SECRET must be at least 32 characters in production")
        if not self.database_url or not self.redis_url:
            raise ConfigError("production mode needs DATABASE_URL and REDIS_URL")


_FIELDS = {f.name: f for f in msgspec.structs.fields(Settings)}


def _dev_checkpoint_public_key() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed = base64.b64decode(DEV_SECRETS["audit_checkpoint_key"])
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from `TONGBAN_*` variables plus `DATABASE_URL` / `REDIS_URL`."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name in _FIELDS:
        key = name.upper() if name in ("database_url", "redis_url") else f"TONGBAN_{name.upper()}"
        if env.get(key):
            raw[name] = env[key]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
    settings.check()
    return _with_absolute_paths(settings)


def _with_absolute_paths(settings: Settings) -> Settings:
    """Resolve the folders against the working directory once, now: a later change of directory must
    not move them. A face-model folder that was named must exist; the default one is made as needed."""
    named = settings.face_model_dir
    if named and not os.path.isdir(named):
        raise ConfigError(f"TONGBAN_FACE_MODEL_DIR={named} is not a directory "
                          f"(resolved to {os.path.abspath(named)}); create it or unset it to use <data dir>/models")
    data_dir = os.path.abspath(settings.data_dir)
    return msgspec.structs.replace(
        settings, data_dir=data_dir, face_model_dir=os.path.abspath(named or os.path.join(data_dir, "models")))
