"""Scheduler service: the periodic work of the example services, fired by name.

It imports no task code. Run any number of replicas (no leader election):

    jetjobs scheduler services.scheduler.schedules:app
"""

from __future__ import annotations

from datetime import timedelta

from jetjobs import App
from jetjobs.scheduler import crontab

app = App("scheduler")

# Every 3 seconds: match the payment gateway's settlements against our ledger.
app.register_periodic("reconcile_payments", schedule=timedelta(seconds=3), queue="payments", exclusive=True)

# Every night at 02:00 Berlin time, with up to a minute of jitter: refund stale authorisations.
app.register_periodic(
    "expire_authorisations",
    name="nightly-expiry",
    schedule=crontab(hour=2, minute=0),
    tz="Europe/Berlin",
    jitter_s=60,
    queue="payments",
    kwargs={"older_than_days": 7},
    misfire="once",
)
