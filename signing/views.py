from django.http import HttpRequest, HttpResponse


def board(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")


def dev_outbox(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")
