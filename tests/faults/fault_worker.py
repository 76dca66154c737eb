"""A real Celery worker whose providers are the fakes of tests/faults/providers.py.

Run as `python -m tests.faults.fault_worker` by the fault tests. `FAULTS_BLOCK` (see
providers.py) makes the first email or SMS hang; `seal-timestamp` makes the first timestamp
request of a seal hang (the TSA call), `seal-registered` hangs once the sealed document is
registered but before the envelope is completed. A test then SIGKILLs this process.
"""

import os
from typing import Any

import django


def _hang_first(marker_name: str) -> bool:
    from tests.faults.providers import blocked_marker

    marker = blocked_marker()
    if marker.exists():
        return False
    marker.write_text(marker_name)
    return True


def _install_faults() -> None:
    from django.conf import settings

    from signing.sms import TwilioSMSBackend
    from tests.faults.providers import ProviderTwilioHttp, _hang

    settings.EMAIL_BACKEND = "tests.faults.providers.ProviderEmailBackend"
    settings.SMS_BACKEND = "signing.sms.TwilioSMSBackend"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+33700000000"
    TwilioSMSBackend.http_client = ProviderTwilioHttp()

    mode = os.environ.get("FAULTS_BLOCK", "")
    if mode == "seal-timestamp":
        from pyhanko.sign.timestamps import DummyTimeStamper

        original = DummyTimeStamper.async_timestamp

        async def hanging_timestamp(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _hang_first(mode):
                _hang()
            return await original(self, *args, **kwargs)

        DummyTimeStamper.async_timestamp = hanging_timestamp  # type: ignore[method-assign]
    elif mode == "seal-registered":
        from signing import audit
        from signing.models import Event

        append = audit.event_append

        def hanging_append(**kwargs: Any) -> Any:
            if kwargs.get("type") == Event.Type.SEALED and _hang_first(mode):
                _hang()
            return append(**kwargs)

        audit.event_append = hanging_append  # type: ignore[assignment]


def main() -> None:
    django.setup()
    _install_faults()
    from signflow.celery import app

    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main()
