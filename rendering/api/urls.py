from __future__ import annotations

from django.urls import path

from rendering.api import action_views, views

urlpatterns = [
    path("instructions", views.InstructionListCreateView.as_view(), name="instruction-list"),
    path("instructions/import", views.InstructionImportView.as_view(), name="instruction-import"),
    path("instructions/<id:pk>", views.InstructionDetailView.as_view(), name="instruction-detail"),
    # Manual override (people only).
    path("actions/retry", action_views.RetryView.as_view(), name="action-retry"),
    path("actions/edit-retry", action_views.EditRetryView.as_view(), name="action-edit-retry"),
    path("actions/cancel", action_views.CancelView.as_view(), name="action-cancel"),
    path(
        "actions/change-priority",
        action_views.ChangePriorityView.as_view(),
        name="action-change-priority",
    ),
    path("actions/bulk-retry", action_views.BulkRetryView.as_view(), name="action-bulk-retry"),
]
