"""Who manages webhooks: managers only (crm.access defines them). An endpoint receives every
envelope's events and its secret signs them, so it is the organisation's, not one employee's."""

from typing import Any

from crm import access as crm_access


def can_manage_webhooks(user: Any) -> bool:
    return crm_access.is_manager(user)
