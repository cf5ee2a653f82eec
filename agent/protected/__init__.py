"""The protected-store index: what the organisation's case-file stores on this laptop contain.

See :mod:`agent.protected.index`.
"""
