from django.urls import path

from signing import board

# Included from signing/urls.py inside the "signing" namespace.
urlpatterns = [
    path("board/", board.board, name="board"),
]
