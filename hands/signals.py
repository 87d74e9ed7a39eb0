"""What the hands app tells the layers above it (it imports none of them).

`premium_hand_recorded(hand=…, created_by=…)` is sent inside the transaction that stores a new
premium hand. The render queue listens (`rendering.apps`) and creates the hand's instruction in
that same transaction, so a premium hand is never stored without it: a receiver's error rolls
the hand back.
"""

from __future__ import annotations

from django.dispatch import Signal

premium_hand_recorded = Signal()
