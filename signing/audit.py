"""The audit trail: an append-only, hash-chained list of events per envelope.

Each event's hash is SHA-256 over the previous event's hash and the canonical JSON of the
row, so editing, deleting or reordering any row breaks every hash after it. Callers append
inside the transaction of the state change, with the envelope row locked (select_for_update),
so that two appends on one envelope can never fork the chain.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Subquery
from django.dispatch import Signal
from django.utils import timezone

from signing.models import Envelope, Event, Party

GENESIS = "0" * 64

# Sent after each event row is written, inside the caller's transaction (kwargs: `event`, with
# `event.envelope` and `event.party` set). Receivers that write (the webhook outbox) share the
# state change's transaction: they commit or roll back with it.
event_appended = Signal()


def _canonical(event: Event) -> bytes:
    payload = {
        "envelope": event.envelope_id,
        "party": event.party_id,
        "actor": event.actor_id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "data": event.data,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(event: Event) -> str:
    return hashlib.sha256(event.prev_hash.encode() + _canonical(event)).hexdigest()


def event_append(
    *,
    envelope: Envelope,
    type: str,
    party: Party | None = None,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    ip: str | None = None,
    user_agent: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    # Only the tail row, through the (envelope, -id) index; the caller holds the envelope's lock.
    tail = list(
        Event.objects.filter(envelope_id=envelope.pk)
        .order_by("-id")
        .values_list("hash", flat=True)[:1]
    )
    prev_hash = tail[0] if tail else GENESIS
    event = Event(
        envelope=envelope,
        party=party,
        actor=actor if actor is not None and actor.is_authenticated else None,  # type: ignore[misc]
        type=type,
        created_at=timezone.now(),
        ip=ip or None,
        user_agent=(user_agent or "")[:400],
        data=data or {},
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(event)
    event.save()
    event_appended.send(sender=Event, event=event)
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event for `events_append` (by ids: no model instance needed)."""

    envelope_id: int
    type: str
    party_id: int | None = None
    data: dict[str, Any] | None = None


def events_append(new: list[NewEvent]) -> list[Event]:
    """Append many events, in order, to the chains of their envelopes: what `event_append` does
    for each, in four statements (lock the envelopes, read their tails, one insert) whatever
    their number. Call it inside a transaction."""
    if not new:
        return []
    envelope_ids = sorted({n.envelope_id for n in new})
    # Locked in id order, so two batches over the same envelopes cannot deadlock.
    list(
        Envelope.objects.select_for_update()
        .filter(pk__in=envelope_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Read after the lock (a new statement sees what the previous holder committed).
    tail_of = Subquery(
        Event.objects.filter(envelope_id=OuterRef("pk")).order_by("-id").values("hash")[:1]
    )
    tails = dict(
        Envelope.objects.filter(pk__in=envelope_ids)
        .annotate(tail=tail_of)
        .values_list("pk", "tail")
    )
    events = []
    for n in new:
        event = Event(
            envelope_id=n.envelope_id,
            party_id=n.party_id,
            type=n.type,
            created_at=timezone.now(),
            user_agent="",
            data=n.data or {},
            prev_hash=tails[n.envelope_id] or GENESIS,
        )
        event.hash = compute_hash(event)
        tails[n.envelope_id] = event.hash
        events.append(event)
    Event.objects.bulk_create(events)  # ids in list order: the chain's order
    for event in events:
        event_appended.send(sender=Event, event=event)
    return events


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    head: str
    first_broken_id: int | None = None
    reason: str = ""


def chain_check(*, envelope: Envelope) -> ChainReport:
    """Recompute the chain and report the first broken link, if any."""
    prev = GENESIS
    count = 0
    for event in Event.objects.filter(envelope=envelope).order_by("id").iterator():
        count += 1
        if event.prev_hash != prev:
            return ChainReport(False, count, prev, event.pk, "prev_hash does not match")
        if compute_hash(event) != event.hash:
            return ChainReport(False, count, prev, event.pk, "content does not match its hash")
        prev = event.hash
    return ChainReport(True, count, prev)


def chain_head(*, envelope: Envelope) -> str:
    head = Event.objects.filter(envelope=envelope).order_by("-id").values_list("hash", flat=True)
    return head.first() or GENESIS
