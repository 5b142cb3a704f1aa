"""`tongban kiosks`: the device makes its key pair, only the public half is registered."""

import os
import subprocess
import sys

from kiosk.device.keys import DeviceKey


def tongban(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix}
    return subprocess.run([sys.executable, "-m", "backend.cli", "kiosks", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_a_device_key_is_made_on_the_device_and_only_its_public_half_registered(settings, services, tmp_path):
    key_file = tmp_path / "device" / "kiosk.key"

    made = tongban(settings, "keygen", "--key-file", str(key_file))
    registered = tongban(settings, "register", "--division", "330106", "--address", "转塘街道便民服务中心",
                         "--capabilities", "reader,camera,printer", "--key-file", str(key_file))
    listed = tongban(settings, "list", "--division", "330000")

    assert made.returncode == registered.returncode == listed.returncode == 0, registered.stderr
    key = DeviceKey.load_or_create(key_file)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert key.public_key in made.stdout and key.fingerprint in registered.stdout
    kiosk_id = registered.stdout.split()[0]
    assert kiosk_id in listed.stdout and "SILENT" in listed.stdout
    stored = await services.db.pool.fetchrow("SELECT public_key, capabilities FROM kiosks WHERE id = $1::uuid", kiosk_id)
    assert stored["public_key"] == key.public_bytes and stored["capabilities"] == ["reader", "camera", "printer"]
    secret = key.private_key.private_bytes_raw().hex()
    assert all(secret not in out.stdout + out.stderr for out in (made, registered, listed))

    revoked = tongban(settings, "revoke", "--id", kiosk_id, "--reason", "decommissioned")
    again = tongban(settings, "register", "--division", "330106", "--address", "x", "--capabilities", "fax",
                    f"--public-key={DeviceKey.generate().public_key}")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert again.returncode == 1 and "capabilities" in again.stderr
