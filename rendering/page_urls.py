from __future__ import annotations

from django.urls import path

from rendering import views

app_name = "rendering"

urlpatterns = [
    path("instructions/", views.instruction_list, name="instructions"),
    path("instructions/<id:pk>/", views.instruction_detail, name="instruction"),
    path("hands/<id:pk>/", views.hand_detail, name="hand"),
    path("outputs/", views.output_list, name="outputs"),
    path("outputs/<id:pk>/preview", views.output_preview, name="output-preview"),
]
