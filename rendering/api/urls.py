from __future__ import annotations

from django.urls import path

from rendering.api import views

urlpatterns = [
    path("instructions", views.InstructionListCreateView.as_view(), name="instruction-list"),
    path("instructions/import", views.InstructionImportView.as_view(), name="instruction-import"),
    path("instructions/<int:pk>", views.InstructionDetailView.as_view(), name="instruction-detail"),
]
