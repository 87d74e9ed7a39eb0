"""Producer API of the feature tables: hands in; and the read API of hands and tournaments."""

from __future__ import annotations

from http import HTTPStatus

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from automation_hub.api.permissions import actor_name, person_or_producer
from hands.api.filters import HandFilter
from hands.api.serializers import HandInput, HandOutput, TournamentOutput
from hands.selectors import hand_list, tournament_list
from hands.services import hand_ingest

# Least privilege: the feature tables post and read hands (and tournaments); the sub desk reads
# hands to build instructions for them; every other key is refused.
CanPostHands = person_or_producer("feature_table")
CanReadHands = person_or_producer("feature_table", "sub")
CanReadTournaments = person_or_producer("feature_table")


class HandListCreateView(generics.ListAPIView):
    """GET: hands, newest first. POST: a hand from an RFID table (idempotent)."""

    serializer_class = HandOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = HandFilter
    error_responses = {
        "409": "The same (table_id, hand_number) was recorded with other content; `errors` "
        "names each differing field, `existing_id` the stored hand."
    }

    def get_queryset(self):
        return hand_list()

    def get_permissions(self):
        return [CanPostHands()] if self.request.method == "POST" else [CanReadHands()]

    @extend_schema(
        request=HandInput,
        responses={201: HandOutput, 200: HandOutput},
        description=(
            "201 with the stored hand (and the ids of instructions it triggered). A resend of "
            "the same hand → 200 with the same id; the same (table_id, hand_number) with "
            "different content → 409 naming the differing fields."
        ),
        tags=["hands"],
    )
    def post(self, request: Request) -> Response:
        payload = HandInput(data=request.data)
        payload.is_valid(raise_exception=True)
        result = hand_ingest(data=payload.validated_data, created_by=actor_name(request))
        return Response(
            HandOutput(result.hand).data,
            status=HTTPStatus.CREATED if result.created else HTTPStatus.OK,
        )


class HandDetailView(generics.RetrieveAPIView):
    serializer_class = HandOutput
    permission_classes = [CanReadHands]

    def get_queryset(self):
        return hand_list()


class TournamentListView(generics.ListAPIView):
    serializer_class = TournamentOutput
    permission_classes = [CanReadTournaments]

    def get_queryset(self):
        return tournament_list()


class TournamentDetailView(generics.RetrieveAPIView):
    serializer_class = TournamentOutput
    permission_classes = [CanReadTournaments]

    def get_queryset(self):
        return tournament_list()
