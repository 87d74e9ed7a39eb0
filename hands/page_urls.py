from __future__ import annotations

from django.urls import path

from hands import views

app_name = "hands"

urlpatterns = [
    path("hands/", views.hand_list, name="hands"),
    path("hands/<int:pk>/", views.hand_detail, name="hand"),
]
