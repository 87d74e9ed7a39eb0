from __future__ import annotations

from django.urls import path

from hands import views

app_name = "hands"

urlpatterns = [
    path("hands/", views.hand_list, name="hands"),
]
