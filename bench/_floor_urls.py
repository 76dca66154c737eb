"""The signer page's floor for bench_signer.py: in the same server (same middleware, same
database connection settings), one indexed lookup of the party by token hash and a 1 KB
template. Everything else is SignFlow's own URLconf."""

from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from signflow.urls import urlpatterns as signflow_urlpatterns
from signing import tokens
from signing.models import Party

TEMPLATE = engines["django"].from_string(
    """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>{{ title }}</h1>
<p>Pour {{ name }}. Ce document vous a été envoyé pour signature électronique. Avant de signer,
nous vous envoyons un code à 6 chiffres pour confirmer votre identité : il est valable 5 minutes
et sert aussi à refuser de signer. Vous pouvez lire le document en entier avant de le signer, et
en télécharger une copie une fois votre identité confirmée.</p>
<p>Une fois que toutes les parties auront signé, vous recevrez le PDF scellé par courriel, avec
son certificat de signature. Vous pourrez en vérifier l'intégrité à tout moment sur la page de
vérification, sans compte, en déposant la copie que vous avez reçue.</p>
<form method="post" action="code/send/"><button type="submit">Envoyez-moi le code</button></form>
</main></body></html>
"""
)


def floor_view(_request: HttpRequest, token: str) -> HttpResponse:
    party = (
        Party.objects.filter(token_hash=tokens.hash_token(token))
        .values("name", "envelope__title")
        .first()
    )
    if party is None:
        raise Http404
    context = {"name": party["name"], "title": party["envelope__title"]}
    return HttpResponse(TEMPLATE.render(context))


urlpatterns = [path("floor/<str:token>/", floor_view), *signflow_urlpatterns]
