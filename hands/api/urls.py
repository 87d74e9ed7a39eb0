from __future__ import annotations

from django.urls import path

from hands.api import views

urlpatterns = [
    path("hands", views.HandListCreateView.as_view(), name="hand-list"),
    path("hands/<id:pk>", views.HandDetailView.as_view(), name="hand-detail"),
    path("tournaments", views.TournamentListView.as_view(), name="tournament-list"),
    path("tournaments/<id:pk>", views.TournamentDetailView.as_view(), name="tournament-detail"),
]
