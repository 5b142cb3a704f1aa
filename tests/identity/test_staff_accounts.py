"""A disabled or deleted staff account stops working at once (issue 15, item 9)."""

from tests.factories import STAFF_PASSWORD, bearer, create_staff, staff_token

NOBODY = "00000000-0000-4000-8000-000000000000"


async def signed_in_officer(client, services, username: str, division: str = "330100") -> dict:
    await create_staff(services, username, "receiving_officer", division)
    response = await client.post("/auth/staff/sign-in", json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json() | {"id": services.tokens.read(response.json()["access_token"]).sub}


async def test_disabling_an_account_ends_its_sessions_at_once(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    officer = await signed_in_officer(client, services, "zj.leaving")
    read = lambda: client.get(f"/staff/citizens/{NOBODY}", headers=bearer(officer["access_token"]))  # noqa: E731
    assert (await read()).status_code == 404  # signed in: told the citizen is missing

    disabled = await client.post(f"/admin/staff/{officer['id']}/disable", headers=bearer(admin))
    after = await read()
    refreshed = await client.post("/auth/refresh", json={"refresh_token": officer["refresh_token"]})
    again = await client.post("/auth/staff/sign-in", json={"username": "zj.leaving", "password": STAFF_PASSWORD})

    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert after.status_code == 401 and refreshed.status_code == 401 and again.status_code == 401
    entry = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'staff.disabled'")
    assert entry["detail"]["sessions_ended"] == 1


async def test_a_deleted_account_stops_working(client, services):
    officer = await signed_in_officer(client, services, "zj.deleted")

    await services.db.pool.execute("DELETE FROM staff WHERE username = 'zj.deleted'")
    response = await client.get(f"/staff/citizens/{NOBODY}", headers=bearer(officer["access_token"]))

    assert response.status_code == 401 and "disabled" in response.json()["detail"]


async def test_an_admin_disables_only_inside_their_division(client, services):
    sichuan = await staff_token(client, services, "admin", "510000")
    officer = await signed_in_officer(client, services, "zj.staying")

    outside = await client.post(f"/admin/staff/{officer['id']}/disable", headers=bearer(sichuan))
    missing = await client.post(f"/admin/staff/{NOBODY}/disable", headers=bearer(sichuan))
    itself = await client.post(f"/admin/staff/{services.tokens.read(sichuan).sub}/disable", headers=bearer(sichuan))
    still = await client.get(f"/staff/citizens/{NOBODY}", headers=bearer(officer["access_token"]))

    assert outside.status_code == missing.status_code == 404 and itself.status_code == 409
    assert outside.json()["detail"] == missing.json()["detail"] and still.status_code == 404
