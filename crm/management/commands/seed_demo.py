"""Demo data in French: our company, its people, two clients, deals and invoices.

Idempotent: every record is looked up by a natural key first, so a second run creates nothing.
"""

import datetime
import hashlib
import io
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone, translation
from PIL import Image, ImageDraw, ImageFont

from crm.models import Contact, Counterparty, Deal, DealStage, Employee, OwnCompany
from crm.services import LineData, deal_create, invoice_create, invoice_set_status

DEMO_PASSWORD = "demo-signflow"  # noqa: S105 - printed on purpose, demo logins only

COMPANY: dict[str, Any] = {
    "legal_form": "SAS",
    "siren": "732829320",
    "siret": "73282932000074",
    "vat_number": "FR44732829320",
    "rcs_city": "Lyon",
    "address": "12 rue de la République\n69002 Lyon",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "director_name": "Claire Dubois",
    "director_title": "Présidente",
    "director_email": "claire.dubois@atelier-lumiere.fr",
    "director_phone": "+33612345678",
    "is_default": True,
}

PEOPLE = [
    # username, first name, last name, role
    ("manager", "Marc", "Lefèvre", Employee.Role.MANAGER),
    ("employe1", "Sophie", "Bernard", Employee.Role.EMPLOYEE),
    ("employe2", "Lucas", "Petit", Employee.Role.EMPLOYEE),
]


def line(description: str, quantity: str, unit: str, price: str, rate: str) -> LineData:
    return {
        "description": description,
        "quantity": Decimal(quantity),
        "unit": unit,
        "unit_price": Decimal(price),
        "vat_rate": Decimal(rate),
    }


STAMP_INK = (38, 58, 150, 235)  # the blue-violet of a rubber stamp
STAMP_PX = 600


def demo_stamp_png(*, name: str, city: str, siren: str) -> bytes:
    """A round company stamp as a transparent PNG: the name and city around the rim, the SIREN
    and "Le Président" across the middle, in stamp ink. Drawn here so the demo needs no file."""
    font_path = Path(settings.BASE_DIR) / "static" / "fonts" / "DejaVuSans-Bold.ttf"
    image = Image.new("RGBA", (STAMP_PX, STAMP_PX), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = STAMP_PX / 2
    for radius, width in ((290, 12), (200, 5)):
        draw.ellipse(
            (centre - radius, centre - radius, centre + radius, centre + radius),
            outline=STAMP_INK,
            width=width,
        )
    rim = f"{name.upper()} \u2022 {city.upper()} \u2022 "
    rim_font = ImageFont.truetype(str(font_path), 44)
    step = 360 / len(rim)
    for index, char in enumerate(rim):
        angle = math.radians(index * step - 90)
        glyph = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((32, 32), char, font=rim_font, fill=STAMP_INK, anchor="mm")
        glyph = glyph.rotate(-(index * step), resample=Image.Resampling.BICUBIC)
        x = centre + 245 * math.cos(angle) - 32
        y = centre + 245 * math.sin(angle) - 32
        image.alpha_composite(glyph, (round(x), round(y)))
    middle = ImageFont.truetype(str(font_path), 40)
    small = ImageFont.truetype(str(font_path), 30)
    draw.text((centre, centre - 50), "CACHET", font=middle, fill=STAMP_INK, anchor="mm")
    draw.line((centre - 150, centre - 12, centre + 150, centre - 12), fill=STAMP_INK, width=4)
    draw.text((centre, centre + 30), f"SIREN {siren}", font=small, fill=STAMP_INK, anchor="mm")
    draw.text((centre, centre + 80), "La Présidente", font=small, fill=STAMP_INK, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


# The demo's deals: clients, contacts and employees named by their key in `_seed_clients` and
# PEOPLE; each gets one invoice in the given status.
DEMO_DEALS: list[dict[str, Any]] = [
    {
        "title": "Refonte de la vitrine",
        "counterparty": "bakery",
        "contact": "paul",
        "responsible": "employe1",
        "stage": "proposal",
        "status": "issued",
        "lines": [
            line("Conception graphique de la vitrine", "1", "forfait", "4500.00", "20"),
            line("Enseigne lumineuse LED", "2", "u", "1249.99", "20"),
            line("Livret de recettes imprimé", "40", "u", "12.45", "5.5"),
        ],
    },
    {
        "title": "Éclairage du fournil",
        "counterparty": "bakery",
        "contact": "paul",
        "responsible": "employe2",
        "stage": "negotiation",
        "status": "draft",
        "lines": [
            line("Réglettes étanches IP65", "6", "u", "89.90", "20"),
            line("Pose et raccordement", "7.5", "h", "55.00", "20"),
        ],
    },
    {
        "title": "Luminaires du salon",
        "counterparty": "julie_cp",
        "contact": "julie",
        "responsible": "employe2",
        "stage": "new",
        "status": "issued",
        "lines": [
            line("Suspension en laiton", "1", "u", "320.00", "20"),
            line("Rénovation énergétique : ampoules basse consommation", "12", "u", "7.99", "5.5"),
        ],
    },
    {
        "title": "Maintenance annuelle",
        "counterparty": "bakery",
        "contact": "paul",
        "responsible": "employe1",
        "stage": "won",
        "status": "paid",
        "lines": [line("Contrat de maintenance 2026", "1", "an", "960.00", "20")],
    },
]


class Command(BaseCommand):
    help = "Load the French demo data (idempotent) and print the demo logins."

    def handle(self, *_args: Any, **_options: Any) -> None:
        # The demo is French: timeline texts are stored in the language active when written.
        with translation.override("fr"), transaction.atomic():
            self._seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready (Atelier Lumière SAS)."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role in PEOPLE:
            self.stdout.write(f"  {username:<10} {first} {last} ({role})")

    def _seed(self) -> None:
        company = _seed_company()
        users = {
            username: _seed_employee(company, username, first, last, role)
            for username, first, last, role in PEOPLE
        }
        clients = _seed_clients()
        stages = {s.code: s for s in DealStage.objects.all()}
        for spec in DEMO_DEALS:
            _seed_deal(company, spec, refs={**users, **clients}, stages=stages)


def _seed_company() -> OwnCompany:
    DealStage.objects.ensure_defaults()
    # The demo pipeline's rule: a deal is won when its document is signed.
    if not DealStage.objects.filter(on_signature=True).exists():
        DealStage.objects.filter(code="won").update(on_signature=True)
    company, _ = OwnCompany.objects.get_or_create(
        legal_name="Atelier Lumière SAS", defaults=COMPANY
    )
    if not OwnCompany.objects.filter(is_default=True).exists():
        company.is_default = True
        company.save(update_fields=["is_default"])
    if not company.default_stamp:
        # The director's page then offers "Use the company stamp" from the first signature.
        png = demo_stamp_png(name="Atelier Lumière SAS", city="Lyon", siren="732 829 320")
        digest = hashlib.sha256(png).hexdigest()
        company.default_stamp.save(f"{digest}.png", ContentFile(png), save=False)
        company.save(update_fields=["default_stamp"])
    return company


def _seed_employee(company: OwnCompany, username: str, first: str, last: str, role: str) -> User:
    admin = settings.DEBUG and role == Employee.Role.MANAGER
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@atelier-lumiere.fr",
            # The manager also administers the CRM in Django's admin, in development only:
            # the demo password is public, a superuser with it must not exist on a server
            # (and staff need two-step login there).
            "is_staff": admin,
            "is_superuser": admin,
        },
    )
    if (
        not settings.DEBUG
        and (user.is_staff or user.is_superuser)
        and user.check_password(DEMO_PASSWORD)
    ):
        # Seeded earlier under DEBUG: the public password must not keep admin rights.
        user.is_staff = user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    Employee.objects.get_or_create(user=user, defaults={"company": company, "role": role})
    return user


def _seed_clients() -> dict[str, Any]:
    """The demo's clients and their contacts, by the keys DEMO_DEALS uses."""
    bakery, _ = Counterparty.objects.get_or_create(
        legal_name="Boulangerie Martin SARL",
        defaults={
            "kind": Counterparty.Kind.COMPANY,
            "legal_form": "SARL",
            "siren": "552100554",
            "siret": "55210055400013",
            "vat_number": "FR96552100554",
            "rcs_city": "Paris",
            "address": "3 place du Marché\n75011 Paris",
            "email": "contact@boulangerie-martin.fr",
            "phone": "+33143570000",
        },
    )
    paul, _ = Contact.objects.get_or_create(
        counterparty=bakery,
        name="Paul Martin",
        defaults={
            "position": "Gérant",
            "email": "paul.martin@boulangerie-martin.fr",
            "phone": "+33698765432",
        },
    )
    Contact.objects.get_or_create(
        counterparty=bakery,
        name="Anne Martin",
        defaults={
            "position": "Comptable",
            "email": "anne.martin@boulangerie-martin.fr",
            "phone": "+33687654321",
        },
    )
    julie_cp, _ = Counterparty.objects.get_or_create(
        legal_name="Julie Moreau",
        defaults={
            "kind": Counterparty.Kind.INDIVIDUAL,
            "address": "8 allée des Tilleuls\n69100 Villeurbanne",
            "email": "julie.moreau@example.fr",
            "phone": "+33611223344",
        },
    )
    julie, _ = Contact.objects.get_or_create(
        counterparty=julie_cp,
        name="Julie Moreau",
        defaults={"email": "julie.moreau@example.fr", "phone": "+33611223344"},
    )
    return {"bakery": bakery, "paul": paul, "julie_cp": julie_cp, "julie": julie}


def _seed_deal(
    company: OwnCompany,
    spec: dict[str, Any],
    *,
    refs: dict[str, Any],
    stages: dict[str, DealStage],
) -> None:
    """The deal (found by title, or created) and, once, its invoice in the spec's status."""
    deal = Deal.objects.filter(company=company, title=spec["title"]).first()
    if deal is None:
        deal = deal_create(
            title=spec["title"],
            company=company,
            counterparty=refs[spec["counterparty"]],
            contact=refs[spec["contact"]],
            responsible=refs[spec["responsible"]],
            stage=stages[spec["stage"]],
        )
    if deal.invoices.exists():
        return
    today = timezone.localdate()
    invoice = invoice_create(
        deal=deal,
        lines=spec["lines"],
        issue_date=today,
        due_date=today + datetime.timedelta(days=30),
    )
    deal.amount = invoice.totals()["gross"]
    deal.save(update_fields=["amount"])
    if spec["status"] in ("issued", "paid"):
        invoice_set_status(invoice=invoice, status="issued")
    if spec["status"] == "paid":
        invoice_set_status(invoice=invoice, status="paid")
