"""Compare a copy with a sealed envelope: the full comparison, for those entitled to it.

The public verification page shows anyone holding a file only what that file already shows
(see verification.diffing). The sender's employees who may view the envelope, and each signer
through their own link, may see the sealed document anyway: here they get whole pages side by
side and every text change, against their envelope's sealed document only.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from signflow.http import AuthenticatedHttpRequest
from signing import access, services
from signing.models import Envelope, Party
from verification.views import comparison_page

TEMPLATE = "verification/compare.html"


def _compare(
    request: HttpRequest, envelope: Envelope, *, form_action: str, back_url: str
) -> HttpResponse:
    """The full comparison against this envelope's sealed file (callers checked access)."""
    if envelope.sealed is None:
        raise Http404
    return comparison_page(
        request,
        original=envelope.sealed,
        template=TEMPLATE,
        context={"form_action": form_action, "back_url": back_url},
    )


@never_cache
@csrf_exempt  # CSRF is checked by comparison_page, after the upload handler is installed
@require_http_methods(["GET", "POST"])
@login_required
def envelope_compare(request: AuthenticatedHttpRequest, envelope_id: int) -> HttpResponse:
    envelope = get_object_or_404(Envelope.objects.select_related("sealed"), pk=envelope_id)
    if not access.can_view_envelope(request.user, envelope):
        raise Http404
    return _compare(
        request,
        envelope,
        form_action=reverse("signing:envelope_compare", args=[envelope.pk]),
        back_url=reverse("signing:envelope_detail", args=[envelope.pk]),
    )


@never_cache
@csrf_exempt  # CSRF is checked by comparison_page, after the upload handler is installed
@require_http_methods(["GET", "POST"])
def signer_compare(request: HttpRequest, token: str) -> HttpResponse:
    """A signer's own link, once the sealed file is theirs to download."""
    party = services.party_for_token(token)
    if party is None:
        raise Http404
    envelope = party.envelope
    translation.activate(envelope.language)
    request.LANGUAGE_CODE = envelope.language
    if party.status != Party.Status.SIGNED or not services.download_available(envelope):
        raise Http404
    return _compare(
        request,
        envelope,
        form_action=reverse("signing:signer_compare", args=[token]),
        back_url=reverse("signing:sign", args=[token]),
    )
