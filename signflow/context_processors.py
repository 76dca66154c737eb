from typing import Any

from django.conf import settings
from django.http import HttpRequest


def signflow(request: HttpRequest) -> dict[str, Any]:
    employee = getattr(request.user, "employee", None) if request.user.is_authenticated else None
    return {
        "dev_outbox_enabled": settings.SIGNFLOW_DEV_OUTBOX,
        "current_employee": employee,
    }
