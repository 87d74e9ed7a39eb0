from __future__ import annotations

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("overview/", views.overview, name="overview"),
    path("overview/summary", views.overview_summary, name="overview-summary"),
    path("overview/series.json", views.overview_series, name="overview-series"),
    path("events/", views.event_list, name="events"),
]
