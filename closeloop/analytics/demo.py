"""Demo scenario for analytics: compute the figures of the demo company's work orders at once
(the worker keeps them current afterwards), and say where the heat map is."""

ORDER = 90  # last: every other scenario's work orders are in the timeline by then


def seed() -> str:
    from .refresh import rebuild

    out = rebuild()
    return f"analytics: figures of {out['work_orders']} work orders at /analytics/ and the heat map at /analytics/heatmap/"
