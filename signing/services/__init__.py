"""Every write that changes an envelope's state, by domain.

Each service runs in one transaction with the envelope row locked (`select_for_update`), writes
its audit event and queues its messages in that same transaction. The lock is what keeps two
requests on one envelope from double-signing, skipping the order or sending a message twice.

The modules, in the envelope's order of life:

- `_common`: the error, links, the lock, status changes, messaging a party, the deal timeline;
- `sending`: create an envelope, check its parties, send it;
- `codes`: a signer opens the link, gets and confirms the one-time code;
- `signing`: a party signs or declines;
- `lifecycle`: cancel, remind, correct a contact, retry a failed message, expire, automatic
  reminders;
- `sealing`: seal a completed envelope, record failures, retry.

`signing.services` stays the public face: callers import names from here.
"""

from django.conf import settings

from signing.services._common import (
    Actor,
    SigningConflict,
    SigningError,
    _base_context,
    _deadline_passed,
    _deal_timeline,
    _invite,
    _issue_link,
    _local,
    _lock,
    _notify_sender,
    _set_status,
    message_party,
    party_for_token,
    signing_link,
)
from signing.services.codes import (
    LINK_MESSAGES,
    _locked_party,
    link_problem,
    otp_confirm,
    otp_send,
    party_open,
)
from signing.services.correcting import envelope_correct, envelope_correction_open
from signing.services.lifecycle import (
    REMIND_COOLDOWN,
    envelope_cancel,
    envelope_remind,
    expire_due,
    message_retry,
    party_reissue,
    reminders_due,
)
from signing.services.sealing import (
    _SEAL_LOCK_BASE,
    SEAL_FIRST_RETRY,
    SEAL_GIVE_UP_AFTER,
    SEAL_MAX_ATTEMPTS,
    SEAL_MAX_RETRY,
    SEALING_FAILED_ADVICE,
    SEALING_FAILED_WHAT,
    _discard_stale_preparation,
    _flatten,
    _iso,
    _seal,
    _seal_claim,
    _seal_failed,
    download_available,
    envelope_retry_sealing,
    envelope_seal,
    mask_email,
    mask_phone,
    seal_due,
    seal_metadata,
    sealing_problem,
)
from signing.services.sending import (
    PartyInput,
    SendValidationError,
    _status_for,
    current_envelope,
    envelope_create,
    envelope_create_from_invoice,
    envelope_discard_draft,
    envelope_for_document,
    envelope_open_for_invoice,
    envelope_open_for_template,
    envelope_replace,
    envelope_send,
    envelope_set_language,
    invoice_source,
    normalise_phone,
    template_source,
    validate_party_input,
)
from signing.services.signing import (
    SubmittedValue,
    _check_value,
    _queue_seal,
    _write_back,
    party_decline,
    party_sign,
)
from signing.services.viewing import copy_download, filled_values

__all__ = [
    "message_party",
    "settings",
    "Actor",
    "LINK_MESSAGES",
    "PartyInput",
    "REMIND_COOLDOWN",
    "SEALING_FAILED_ADVICE",
    "SEALING_FAILED_WHAT",
    "SEAL_FIRST_RETRY",
    "SEAL_GIVE_UP_AFTER",
    "SEAL_MAX_ATTEMPTS",
    "SEAL_MAX_RETRY",
    "SendValidationError",
    "SigningConflict",
    "SigningError",
    "SubmittedValue",
    "_SEAL_LOCK_BASE",
    "_base_context",
    "_check_value",
    "_deadline_passed",
    "_deal_timeline",
    "_discard_stale_preparation",
    "_flatten",
    "_invite",
    "_iso",
    "_issue_link",
    "_local",
    "_lock",
    "_locked_party",
    "_notify_sender",
    "_queue_seal",
    "_seal",
    "_seal_claim",
    "_seal_failed",
    "_set_status",
    "_status_for",
    "_write_back",
    "copy_download",
    "envelope_correct",
    "envelope_correction_open",
    "download_available",
    "filled_values",
    "envelope_cancel",
    "envelope_create",
    "envelope_create_from_invoice",
    "envelope_discard_draft",
    "envelope_open_for_invoice",
    "envelope_open_for_template",
    "envelope_replace",
    "envelope_set_language",
    "current_envelope",
    "invoice_source",
    "template_source",
    "envelope_for_document",
    "envelope_remind",
    "envelope_retry_sealing",
    "envelope_seal",
    "envelope_send",
    "expire_due",
    "link_problem",
    "mask_email",
    "mask_phone",
    "normalise_phone",
    "otp_confirm",
    "otp_send",
    "party_decline",
    "party_for_token",
    "party_open",
    "message_retry",
    "party_reissue",
    "party_sign",
    "reminders_due",
    "seal_due",
    "seal_metadata",
    "sealing_problem",
    "signing_link",
    "validate_party_input",
]
