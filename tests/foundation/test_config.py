import re

import pytest

from backend.config import ConfigError, load_settings

SECRETS = {
    "TONGBAN_JWT_SECRET": "x" * 48,
    "TONGBAN_PII_KEY": "cHJvZHVjdGlvbi1waWkta2V5LTMyLWJ5dGVzLWxvbmc=",
    "TONGBAN_PII_HASH_KEY": "cHJvZHVjdGlvbi1oYXNoLWtleS0zMi1ieXRlcy1sb24=",
    "TONGBAN_AUDIT_KEY": "cHJvZHVjdGlvbi1hdWRpdC1rZXktMzItYnl0ZXMtbG8=",
    "TONGBAN_SIGNING_KEY_KEK": "cHJvZHVjdGlvbi1zaWduaW5nLWtlay0zMi1ieXRlcyE=",
    "TONGBAN_AUDIT_CHECKPOINT_KEY": "cHJvZHVjdGlvbi1hdWRpdC1jaGVja3BvaW50LTMyYnk=",
    "DATABASE_URL": "postgresql://db/tongban",
    "REDIS_URL": "redis://cache",
}


def test_development_mode_runs_on_defaults():
    assert load_settings({}).mode == "development"


def test_production_refuses_development_secrets():
    with pytest.raises(ConfigError, match="TONGBAN_AUDIT_KEY"):
        load_settings({**SECRETS, "TONGBAN_MODE": "production", "TONGBAN_AUDIT_KEY": ""})


def test_production_refuses_to_start_without_servers():
    env = {k: v for k, v in SECRETS.items() if k != "REDIS_URL"}
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings({**env, "TONGBAN_MODE": "production"})


def test_production_runs_with_real_secrets():
    assert load_settings({**SECRETS, "TONGBAN_MODE": "production"}).is_production


def test_a_key_of_the_wrong_length_is_refused():
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings({"TONGBAN_PII_KEY": "c2hvcnQ="})


def test_a_mistyped_setting_is_refused():
    with pytest.raises(ConfigError, match="port"):
        load_settings({"TONGBAN_PORT": "eighty"})


def test_retired_checkpoint_keys_must_be_public_keys_and_never_the_development_one():
    from backend.audit.checkpoints import public_keys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    development = load_settings({})
    dev_x = public_keys(Ed25519PrivateKey.from_private_bytes(
        development.secret_bytes("audit_checkpoint_key")).public_key(), []).keys[0].x
    with pytest.raises(ConfigError, match="TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS"):
        load_settings({"TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS": "c2hvcnQ"})
    with pytest.raises(ConfigError, match="development checkpoint key"):
        load_settings({**SECRETS, "TONGBAN_MODE": "production", "TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS": dev_x})
    other = public_keys(Ed25519PrivateKey.generate().public_key(), []).keys[0].x
    assert len(load_settings({"TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS": f"{dev_x}, {other}"})
               .retired_checkpoint_keys()) == 2


async def test_production_never_writes_a_sign_in_code_to_the_log(settings, caplog):
    """The outbox keeps the text for the operator's gateway; the log says only that one was queued."""
    import logging

    from backend.actors import Actor
    from backend.container import Services

    production = load_settings({**SECRETS, "TONGBAN_MODE": "production", "DATABASE_URL": settings.database_url,
                                "REDIS_URL": settings.redis_url, "TONGBAN_REDIS_PREFIX": settings.redis_prefix})
    caplog.set_level(logging.INFO, logger="tongban.sms")
    services = await Services.start(production)
    try:
        await services.identity.request_code("13912345678", "127.0.0.1", Actor.system())
        queued = await services.db.pool.fetchval("SELECT body FROM sms_outbox ORDER BY id DESC LIMIT 1")
    finally:
        await services.close()

    code = re.search(r"\d{6}", queued)[0]
    assert [r.getMessage() for r in caplog.records if r.name == "tongban.sms"] == ["sms to 139****5678 queued"]
    assert code not in caplog.text
