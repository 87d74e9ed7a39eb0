from __future__ import annotations

from django.contrib import admin

from hands.models import Hand, Tournament


@admin.register(Tournament)
class TournamentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "status", "starts_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["code", "name"]


@admin.register(Hand)
class HandAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "table_id",
        "hand_number",
        "hand_rank",
        "is_premium",
        "pot_size",
        "winner",
        "source",
        "tournament",
        "created_at",
    ]
    list_filter = ["is_premium", "hand_rank", "source", "tournament", "created_at"]
    search_fields = ["table_id", "winner", "=correlation_id"]
    date_hierarchy = "created_at"
    list_select_related = ["tournament"]
    # A stored hand is evidence of what happened at the table: edit nothing that identifies it.
    readonly_fields = ["correlation_id", "content_hash", "created_at", "is_premium"]
