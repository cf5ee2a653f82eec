"""The console's routes, one module per area; ``all_routes`` puts them together."""

from __future__ import annotations

from starlette.routing import BaseRoute


def all_routes() -> list[BaseRoute]:
    """Every page and action of the console."""
    from collector.console.routes import audit, auth, dashboard, devices, ico, inbox, incident, register, report

    return [*auth.ROUTES, *inbox.ROUTES, *incident.ROUTES, *ico.ROUTES, *register.ROUTES, *dashboard.ROUTES,
            *devices.ROUTES,
            *report.ROUTES, *audit.ROUTES]  # fmt: skip
