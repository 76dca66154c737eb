from django.http import HttpRequest, HttpResponse


def verify(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")
