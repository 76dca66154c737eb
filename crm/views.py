from django.http import HttpRequest, HttpResponse


def deal_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")


def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    return HttpResponse("TODO")
