"""Reads of the monitoring side, one module per topic. Every selector returns a queryset, a model
instance or a frozen dataclass holding real values (aware `datetime`s, never ISO strings); JSON is
built at the edge (`monitoring.api.serializers`), and templates receive the dataclasses.

- `rollup`: counts over time ranges, per-minute rollup for settled minutes + base rows for the rest
- `windows`: the 15m / 1h / 24h windows of the metrics API and their bucket edges
- `metrics`: throughput, latency and error rate over a window; the live FAILED counts
- `queue`: rows waiting or running now (queue depth, delayed count, oldest PENDING)
- `health`: data-flow health: orphan hands, delayed instructions, completion rate
- `producers`: the three producers' status and last activity
- `events`: event lists, open alerts, the codes seen
- `dashboard`: the `GET /api/dashboard` summary, also the overview page's tiles
- `flow`: one hand's story (instructions, outputs, status chain, correlated events)
- `orchestrator`: the orchestrator's blocks and overall status
- `charts`: the overview page's chart series

Nothing is cached: every figure is read fresh, the same whichever process asks.
"""
