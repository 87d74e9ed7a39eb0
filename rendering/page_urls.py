from __future__ import annotations

from django.urls import path

from rendering import views

app_name = "rendering"

urlpatterns = [
    path("instructions/", views.instruction_list, name="instructions"),
    path("instructions/<int:pk>/", views.instruction_detail, name="instruction"),
    path("hands/<int:pk>/", views.hand_detail, name="hand"),
    path("outputs/", views.output_list, name="outputs"),
    path("outputs/<int:pk>/preview", views.output_preview, name="output-preview"),
]
