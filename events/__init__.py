"""The event catalogue, the envelope, subjects and the JetStream event store.

This package is the bottom layer: it imports neither `projections` nor `frontdoor`.
"""
