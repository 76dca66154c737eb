from django.urls import path

from signing import board

# Included from signing/urls.py inside the "signing" namespace.
urlpatterns = [
    path("board/", board.board, name="board"),
    path("board/changes/", board.board_changes, name="board_changes"),
    path("board/columns/<slug:key>/", board.board_column, name="board_column"),
    path("board/list/", board.envelope_list, name="envelope_list"),
    path("board/list.csv", board.envelope_export, name="envelope_export"),
    path("board/cards/<int:envelope_id>/", board.card_detail, name="card"),
    path("board/cards/<int:envelope_id>/remind/", board.card_remind, name="card_remind"),
    path("board/cards/<int:envelope_id>/cancel/", board.card_cancel, name="card_cancel"),
    path("board/cards/<int:envelope_id>/link/", board.card_link, name="card_link"),
    path(
        "board/cards/<int:envelope_id>/messages/<int:message_id>/retry/",
        board.card_retry,
        name="card_retry",
    ),
    path("board/team/", board.team, name="team"),
    path("board/team/roles/", board.team_roles, name="team_roles"),
]
