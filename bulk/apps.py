from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BulkConfig(AppConfig):
    name = "bulk"
    verbose_name = _("Bulk send")

    def ready(self) -> None:
        from bulk.selectors import board_batch_hook
        from signing.selectors import BATCH_HOOK

        # The board's "Bulk send" filter (signing imports nothing of bulk).
        BATCH_HOOK[:] = [board_batch_hook()]
