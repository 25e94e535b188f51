"""The retry queue's worker side: the handler registry, the handler families, the worker loop.

The queue itself (states, claims, backoff, rescue) lives in SQL; see docs/queue.md.
"""
