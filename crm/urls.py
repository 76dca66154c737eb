from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal_detail"),
]
