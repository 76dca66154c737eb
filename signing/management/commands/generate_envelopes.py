"""Generate realistic envelopes for the board and its benchmark.

    python manage.py generate_envelopes --count 100000

Spread across stages, employees, own companies, counterparties and the last twelve months;
each envelope gets its own Document row (Envelope.document is one-to-one) pointing at a single
stored placeholder PDF, its parties and its last message. Rows go in with bulk_create in
batches, so 100 000 envelopes take well under two minutes on PostgreSQL.
"""

import contextlib
import hashlib
import io
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db import models, transaction
from django.utils import timezone

from crm.models import Counterparty, Employee, OwnCompany
from documents.models import Document
from signing.models import Envelope, Message, Party

PLACEHOLDER = "documents/generated/placeholder.pdf"
S = Envelope.Status
# Roughly what a year of a small company's signatures looks like.
STAGES = [
    (S.DRAFT, 8),
    (S.AWAITING_COMPANY, 10),
    (S.AWAITING_CLIENT, 17),
    (S.SEALING, 1),
    (S.COMPLETED, 52),
    (S.DECLINED, 5),
    (S.CANCELLED, 4),
    (S.EXPIRED, 3),
]
FIRST = ["Camille", "Léa", "Hugo", "Manon", "Louis", "Chloé", "Jules", "Inès", "Nathan", "Emma"]
LAST = ["Martin", "Bernard", "Thomas", "Robert", "Richard", "Durand", "Moreau", "Laurent"]
TRADES = ["Boulangerie", "Garage", "Cabinet", "Atelier", "Pharmacie", "Agence", "Menuiserie",
          "Librairie", "Studio", "Transports", "Fromagerie", "Imprimerie"]  # fmt: skip
TOWNS = ["Lyon", "Paris", "Nantes", "Lille", "Rennes", "Bordeaux", "Grenoble", "Dijon", "Tours"]
FORMS = ["SARL", "SAS", "EURL", "SA"]
SUBJECTS = ["Contrat de maintenance", "Devis", "Bon de commande", "Contrat de prestation",
            "Avenant", "Conditions générales", "Accord de confidentialité", "Mandat SEPA"]  # fmt: skip
DECLINE_REASONS = ["Le montant ne correspond pas au devis.", "Nous avons choisi un autre prestataire.",
                   "Erreur dans l'adresse de facturation.", "Le projet est reporté."]  # fmt: skip
CANCEL_REASONS = ["Envoyé par erreur.", "Nouvelle version du document.", "Le client a annulé."]


def placeholder_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@contextlib.contextmanager
def _keep_given_times(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk_create store the generated creation times (`created_at`) instead of now()."""
    fields = [m._meta.get_field("created_at") for m in model_classes]
    saved = [(f, f.auto_now_add) for f in fields if isinstance(f, models.DateTimeField)]
    for f, _ in saved:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, value in saved:
            f.auto_now_add = value


class Command(BaseCommand):
    help = "Generate realistic envelopes across stages, employees, clients and dates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--employees", type=int, default=12)
        parser.add_argument("--counterparties", type=int, default=400)

    def handle(self, *_args: Any, **options: Any) -> None:
        started = time.monotonic()
        rng = random.Random(options["seed"])
        companies = self._companies()
        employees = self._employees(options["employees"], companies)
        counterparties = self._counterparties(options["counterparties"], rng)
        sha = self._placeholder()
        weights = [w for _, w in STAGES]
        statuses = [s for s, _ in STAGES]
        # A few busy employees, many quieter ones.
        emp_weights = [1.0 / (i + 1) ** 0.6 for i in range(len(employees))]
        done = 0
        while done < options["count"]:
            size = min(options["batch"], options["count"] - done)
            specs = [
                self._spec(
                    rng,
                    rng.choices(statuses, weights)[0],
                    rng.choices(employees, emp_weights)[0],
                    rng.choice(companies),
                    rng.choice(counterparties),
                )
                for _ in range(size)
            ]
            self._write(specs, sha)
            done += size
            self.stdout.write(f"{done} envelopes ({time.monotonic() - started:.1f} s)")
        self.stdout.write(
            self.style.SUCCESS(f"Generated {done} envelopes in {time.monotonic() - started:.1f} s.")
        )

    # -- reference data ---------------------------------------------------------------------

    def _companies(self) -> list[OwnCompany]:
        companies = list(OwnCompany.objects.all()[:3])
        if not companies:
            companies = [
                OwnCompany.objects.create(
                    legal_name="Atelier Lumière SAS",
                    legal_form="SAS",
                    director_name="Claire Dubois",
                    director_email="claire.dubois@atelier-lumiere.fr",
                    is_default=True,
                )
            ]
        return companies

    def _employees(self, wanted: int, companies: list[OwnCompany]) -> list[User]:
        users = list(User.objects.filter(employee__isnull=False).order_by("pk")[:wanted])
        for index in range(len(users), wanted):
            first, last = FIRST[index % len(FIRST)], LAST[index % len(LAST)]
            username = f"gen.{first.lower()}.{last.lower()}.{index}"
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                },
            )
            Employee.objects.get_or_create(
                user=user,
                defaults={
                    "company": companies[index % len(companies)],
                    "role": Employee.Role.MANAGER if index == 0 else Employee.Role.EMPLOYEE,
                },
            )
            users.append(user)
        return users

    def _counterparties(self, wanted: int, rng: random.Random) -> list[Counterparty]:
        existing = list(Counterparty.objects.order_by("pk")[:wanted])
        new = [
            Counterparty(
                kind=Counterparty.Kind.COMPANY,
                legal_name=f"{rng.choice(TRADES)} {rng.choice(LAST)} {rng.choice(TOWNS)} "
                f"{rng.choice(FORMS)}",
                email=f"contact{index}@client.example",
                phone=f"+336{rng.randrange(10_000_000, 99_999_999)}",
            )
            for index in range(len(existing), wanted)
        ]
        return existing + Counterparty.objects.bulk_create(new)

    def _placeholder(self) -> str:
        data = placeholder_pdf()
        if not default_storage.exists(PLACEHOLDER):
            default_storage.save(PLACEHOLDER, ContentFile(data))
        return hashlib.sha256(data).hexdigest()

    # -- one envelope ------------------------------------------------------------------------

    def _spec(
        self,
        rng: random.Random,
        status: str,
        responsible: User,
        company: OwnCompany,
        counterparty: Counterparty,
    ) -> dict[str, Any]:
        now = timezone.now()
        created = now - timedelta(seconds=rng.randrange(60, 365 * 86400))
        spec: dict[str, Any] = {
            "status": status,
            "responsible": responsible,
            "company": company,
            "counterparty": counterparty,
            "created_at": created,
            "title": f"{rng.choice(SUBJECTS)} — {counterparty.legal_name}",
            "amount": Decimal(rng.randrange(10_000, 5_000_000)) / 100,
            "sent_at": None,
            "status_changed_at": created,
            "completed_at": None,
            "deadline": None,
            "closed_reason": "",
            "reminder_every_days": rng.choice([0, 1, 2, 3, 7]),
            "client_channel": rng.choice([Party.Channel.EMAIL, Party.Channel.SMS]),
        }
        if status == S.DRAFT:
            return spec

        def later(start: Any, max_days: float) -> Any:
            return min(now, start + timedelta(seconds=rng.randrange(60, int(max_days * 86400))))

        sent = later(created, 2)
        spec["sent_at"] = sent
        spec["deadline"] = sent + timedelta(days=rng.choice([7, 14, 30]))
        changed = sent
        if status in (S.AWAITING_CLIENT, S.SEALING, S.COMPLETED):
            changed = later(sent, 3)
        if status in (S.SEALING, S.COMPLETED):
            changed = later(changed, 10)
            spec["completed_at"] = changed if status == S.COMPLETED else None
        if status == S.DECLINED:
            changed = later(sent, 6)
            spec["closed_reason"] = rng.choice(DECLINE_REASONS)
        if status == S.CANCELLED:
            changed = later(created, 8)
            spec["closed_reason"] = rng.choice(CANCEL_REASONS)
        if status == S.EXPIRED:
            spec["deadline"] = min(spec["deadline"], now - timedelta(hours=1))
            changed = spec["deadline"]
        spec["status_changed_at"] = changed
        return spec

    # -- writing a batch ---------------------------------------------------------------------

    def _write(self, specs: list[dict[str, Any]], sha: str) -> None:
        with (
            transaction.atomic(),
            _keep_given_times(Document, Envelope, Message),
        ):
            documents = Document.objects.bulk_create(
                [
                    Document(
                        title=spec["title"],
                        source=Document.Source.UPLOAD,
                        language="fr",
                        pdf=PLACEHOLDER,
                        sha256=sha,
                        page_count=1,
                        created_by=spec["responsible"],
                        locked=spec["status"] != S.DRAFT,
                        created_at=spec["created_at"],
                    )
                    for spec in specs
                ]
            )
            envelopes = Envelope.objects.bulk_create(
                [
                    Envelope(
                        document=document,
                        title=spec["title"],
                        status=spec["status"],
                        language="fr",
                        deadline=spec["deadline"],
                        reminder_every_days=spec["reminder_every_days"],
                        responsible=spec["responsible"],
                        company=spec["company"],
                        counterparty=spec["counterparty"],
                        amount=spec["amount"],
                        created_at=spec["created_at"],
                        sent_at=spec["sent_at"],
                        status_changed_at=spec["status_changed_at"],
                        completed_at=spec["completed_at"],
                        closed_reason=spec["closed_reason"],
                    )
                    for document, spec in zip(documents, specs, strict=True)
                ]
            )
            parties: list[Party] = []
            for envelope, spec in zip(envelopes, specs, strict=True):
                if spec["status"] == S.DRAFT:
                    continue
                parties.extend(self._parties(envelope, spec))
            Party.objects.bulk_create(parties)
            messages = [self._last_message(p) for p in parties if p.status == Party.Status.ACTIVE]
            Message.objects.bulk_create([m for m in messages if m is not None])

    def _parties(self, envelope: Envelope, spec: dict[str, Any]) -> list[Party]:
        status = spec["status"]
        company_status, client_status = {
            S.AWAITING_COMPANY: (Party.Status.ACTIVE, Party.Status.WAITING),
            S.AWAITING_CLIENT: (Party.Status.SIGNED, Party.Status.ACTIVE),
            S.SEALING: (Party.Status.SIGNED, Party.Status.SIGNED),
            S.COMPLETED: (Party.Status.SIGNED, Party.Status.SIGNED),
            S.DECLINED: (Party.Status.SIGNED, Party.Status.DECLINED),
            S.CANCELLED: (Party.Status.ACTIVE, Party.Status.WAITING),
            S.EXPIRED: (Party.Status.SIGNED, Party.Status.ACTIVE),
        }[status]
        counterparty = spec["counterparty"]
        sms = spec["client_channel"] == Party.Channel.SMS
        company = spec["company"]
        return [
            Party(
                envelope=envelope,
                role=Party.Role.COMPANY,
                order=1,
                name=company.director_name or "Direction",
                email=company.director_email or "direction@example.com",
                channel=Party.Channel.EMAIL,
                is_company=True,
                status=company_status,
                token_nonce=envelope.public_id.lower(),
                signed_at=spec["sent_at"] if company_status == Party.Status.SIGNED else None,
            ),
            Party(
                envelope=envelope,
                role=Party.Role.CLIENT,
                order=2,
                name=counterparty.legal_name,
                email="" if sms else counterparty.email,
                phone=counterparty.phone if sms else "",
                channel=spec["client_channel"],
                is_company=True,
                status=client_status,
                token_nonce=envelope.public_id.lower() + "c",
                signed_at=spec["completed_at"] if client_status == Party.Status.SIGNED else None,
                declined_at=spec["status_changed_at"] if status == S.DECLINED else None,
                decline_reason=spec["closed_reason"] if status == S.DECLINED else "",
            ),
        ]

    def _last_message(self, party: Party) -> Message | None:
        envelope = party.envelope
        rng = random.Random(envelope.public_id)
        failed = rng.random() < 0.06
        return Message(
            envelope=envelope,
            party=party,
            channel=party.channel,
            recipient=party.recipient,
            template=Message.Template.INVITATION,
            subject=f"Document à signer : {envelope.title}"[:300],
            body=f"Bonjour, merci de signer « {envelope.title} ».",
            status=Message.Status.FAILED if failed else Message.Status.SENT,
            attempts=3 if failed else 1,
            last_error="Adresse introuvable" if failed else "",
            created_at=envelope.status_changed_at or envelope.created_at,
            sent_at=None if failed else envelope.status_changed_at,
        )
