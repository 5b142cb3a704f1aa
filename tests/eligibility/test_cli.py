"""The demo provider fed from the command line, and silent recognition run by hand; a suspended
pensioner recognised silently has the suspension lifted with the back-payment period."""

import datetime as dt

from backend.china_time import today
from tests.eligibility.helpers import agency, pensioner
from tests.factories import bearer
from tests.foundation.test_cli import tongban


async def test_a_provider_fed_from_the_command_line_recognises_silently(settings, client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, due_in_days=-30, enrol=False, consent=False)
    await client.post(f"/staff/pension/roster/{citizen['entry']['id']}/suspension", json={"reason": "逾期未认证"},
                      headers=bearer(officer))

    added = tongban(settings, "pension", "add-provider", "--id", "hz-bank", "--name", "杭州某银行", "--division",
                    "330100", "--kinds", "counter_collection")
    fed = tongban(settings, "pension", "signal", "--provider", "hz-bank", "--resident-id", citizen["resident_id"],
                  "--kind", "counter_collection", "--place", "330106", "--reference", "HZ-BANK-1",
                  "--date", (today() - dt.timedelta(days=2)).isoformat())
    run = tongban(settings, "pension", "silent-run")
    bad = tongban(settings, "pension", "signal", "--provider", "hz-bank", "--resident-id", "123", "--kind",
                  "counter_collection", "--place", "330106", "--reference", "X")

    assert added.returncode == 0 and "credential (shown once" in added.stdout and "hz-bank:" in added.stdout
    assert fed.returncode == 0, fed.stderr
    assert run.returncode == 0 and "1 of 1 open entries recognised" in run.stdout, run.stdout + run.stderr
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    status = (await client.get("/me/pension", headers=bearer(citizen["access_token"]))).json()
    assert status["status"] == "paying" and status["last"]["method"] == "silent"
    assert status["last"]["resumed"] is None  # the status page shows the recognition; the decision is the agency's
    decisions = (await client.get(f"/staff/pension/roster/{citizen['entry']['id']}/decisions",
                                  headers=bearer(officer))).json()
    assert [d["decision"] for d in decisions] == ["resumed", "suspended"]
    assert decisions[0]["back_pay_from"] == (today() - dt.timedelta(days=29)).isoformat()
