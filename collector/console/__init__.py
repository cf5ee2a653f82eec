"""The web console for IG officers, IT, auditors and staff, served by ``caseguard-collector serve --console``.

Server-rendered pages (Starlette and Jinja2, a little JavaScript) over the same stores as
the collector. Every state change goes through the breach workflow's own commands and
exports (``collector.workflow``), exactly as the CLI does; the console adds accounts,
sessions, roles, assignments, notes and device owners, and nothing else.

- ``roles``: who may do what (a table; checked on the server for every route).
- ``passwords``, ``ratelimit``, ``sessions``: argon2 hashes, sign-in throttling, cookie sessions and CSRF tokens.
- ``context``: the request wrapper every route goes through (session, role, CSRF, errors).
- ``routes/``: one module per area (sign-in, inbox, incident, ICO draft, register, devices, self-report, audit).
- ``app`` builds the application; ``server`` runs it in the collector's process.
  (``collector.cli.console`` adds the ``users`` commands.)
"""
