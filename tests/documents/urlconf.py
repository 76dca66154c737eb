"""The project's URLs with a stand-in for signing's send page, which another app provides."""

from django.http import HttpResponse
from django.urls import include, path

from signflow.urls import urlpatterns as project_urlpatterns


def send_stub(request, document_id: int) -> HttpResponse:
    return HttpResponse(f"send {document_id}")


def board_stub(request) -> HttpResponse:
    return HttpResponse("board")


signing_stub = (
    [
        path("send/<int:document_id>/", send_stub, name="send"),
        path("board/", board_stub, name="board"),
        path("dev/outbox/", board_stub, name="dev_outbox"),
    ],
    "signing",
)

urlpatterns = [
    path("", include(signing_stub)),
    *[
        pattern
        for pattern in project_urlpatterns
        if getattr(pattern, "namespace", None) != "signing"
    ],
]
