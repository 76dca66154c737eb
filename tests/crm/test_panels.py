"""crm's templates name no other app: signing contributes its panels through crm.panels."""

from pathlib import Path

import pytest
from django.test import Client

from crm import panels
from crm.models import Deal
from tests import factories

CRM_TEMPLATES = Path(__file__).resolve().parents[2] / "crm" / "templates"


def test_crm_templates_name_no_signing_tag_or_url() -> None:
    mentions = [
        f"{path.relative_to(CRM_TEMPLATES)}:{n}"
        for path in CRM_TEMPLATES.rglob("*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "signing" in line
    ]
    assert mentions == []


def test_an_unknown_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown CRM panel slot"):
        panels.register("sidebar", lambda context, obj: "")


@pytest.mark.django_db
def test_the_deal_page_shows_what_signing_contributes(
    client: Client, sender, deal: Deal, company
) -> None:
    invoice = factories.make_invoice(deal)
    client.force_login(sender)
    html = client.get(f"/crm/deals/{deal.pk}/").content.decode()
    # The send-a-template form (the deal's editor sees it) and the invoice's send action.
    assert f'action="/deals/{deal.pk}/send/"' in html
    assert f'action="/invoices/{invoice.pk}/send/"' in html
    html = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert f'action="/invoices/{invoice.pk}/send/"' in html


@pytest.mark.django_db
def test_the_company_form_links_the_stamp_page(client: Client, manager, company) -> None:
    client.force_login(manager)
    html = client.get(f"/crm/companies/{company.pk}/edit/").content.decode()
    assert f"/companies/{company.pk}/stamp/" in html and 'id="company-stamp-link"' in html
