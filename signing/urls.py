from django.urls import path

from signing import views

app_name = "signing"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("dev/outbox/", views.dev_outbox, name="dev_outbox"),
]
