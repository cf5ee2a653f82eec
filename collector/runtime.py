"""The running collector: stores, the group-commit writer, the workflow thread, and the gRPC,
enrolment and console servers, started in order and released in reverse on every path.

Every part is entered on one ``contextlib.ExitStack`` the moment it exists, so a part that
fails to start (a port in use, a bad console certificate, a database that will not open)
releases everything started before it: threads joined, sockets closed, stores closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from collector.config import CollectorConfig, load_config, notify_channels, workflow_service
from collector.errors import CollectorError
from collector.pki import PkiPaths
from collector.store.factory import check_database, open_enrollment_store, open_store, open_workflow_store

if TYPE_CHECKING:
    from collector.ops.metrics import CollectorMetrics
    from collector.store.workflow_base import WorkflowStore
    from collector.workflow.runner import WorkflowRunner
    from collector.workflow.service import WorkflowService

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServeError(CollectorError):
    """A part of ``serve`` could not start (the message names which, and why)."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``caseguard-collector serve`` was asked to run."""

    data_dir: Path
    database_url: str | None = None
    config: Path | None = None
    listen: str = "0.0.0.0:7443"
    enroll_listen: str | None = None
    console: str | None = None
    console_cert: Path | None = None
    console_key: Path | None = None
    console_plain_http: bool = False
    max_message_bytes: int = 4 * 1024 * 1024
    workers: int = 16
    ops: str | None = None
    ready_workflow_s: float = 300.0


class CollectorRuntime:
    """``serve``'s parts as one object: ``start()`` brings them all up or none; ``stop()`` ends them all.

    Use it as a context manager, or call ``start`` and ``stop`` (both safe to repeat).
    """

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self._stack: ExitStack | None = None
        self.port: int | None = None
        self.enroll_port: int | None = None
        self.console_url: str | None = None
        self.ops_url: str | None = None

    def __enter__(self) -> CollectorRuntime:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful ``start`` and ``stop``."""
        return self._stack is not None

    def start(self) -> None:
        """Start every part; on any failure release what was started and raise (``ServeError`` and kin)."""
        if self._stack is not None:
            return
        with ExitStack() as stack:
            self._start_parts(stack)
            self._stack = stack.pop_all()

    def stop(self) -> None:
        """Stop the servers, then the workflow thread and the writer, then close the stores."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
            log.info("collector stopped")

    def _start_parts(self, stack: ExitStack) -> None:
        from collector.api.server import ServerLimits, ServerTLS, build_server
        from collector.api.servicer import CollectorServicer
        from collector.ingest.quota import DeviceQuota
        from collector.ops.metrics import CollectorMetrics
        from collector.store.group_commit import GroupCommitWriter
        from collector.workflow.runner import WorkflowRunner

        opts = self.options
        paths = PkiPaths.in_data_dir(opts.data_dir)
        try:
            tls = ServerTLS(paths.ca_cert.read_bytes(), paths.server_cert.read_bytes(), paths.server_key.read_bytes())
        except FileNotFoundError:
            raise paths.missing() from None
        config = load_config(opts.config)
        # Before anything opens or listens: a damaged database is refused, not served.
        report = check_database(opts.data_dir, opts.database_url)
        log.info("database check passed: %s", report.summary())
        store = _entered(stack, open_store(opts.data_dir, opts.database_url, config.database), "close")
        workflow_store = _entered(
            stack, open_workflow_store(opts.data_dir, opts.database_url, config.database), "close"
        )
        enrollment_store = _entered(stack, open_enrollment_store(opts.data_dir, opts.database_url), "close")
        workflow = workflow_service(workflow_store, config)
        metrics = CollectorMetrics()
        writer = _entered(
            stack, GroupCommitWriter(store, on_committed=workflow.on_committed, on_group=metrics.observe_group), "stop"
        )
        runner = WorkflowRunner(workflow, on_round=metrics.observe_round)
        runner.start()
        stack.callback(runner.stop)
        self._start_checkpoints(stack, config, paths, workflow_store, metrics)
        servicer = CollectorServicer(
            store, writer, workflow=workflow, pki=paths, enrollment=enrollment_store, metrics=metrics,
            quota=DeviceQuota(config.limits),
        )
        limits = ServerLimits(max_message_bytes=opts.max_message_bytes, workers=opts.workers)
        running = _listening(
            opts.listen, "", lambda: build_server(store, opts.listen, tls, limits, servicer=servicer, writer=writer)
        )
        stack.callback(running.stop)
        self.port = running.port
        if opts.ops:
            self.ops_url = self._start_ops(stack, opts.ops, metrics, workflow, workflow_store, runner)
        if opts.enroll_listen:
            from collector.api.enrollment_servicer import EnrollmentServicer, build_enrollment_server

            enroll_listen = opts.enroll_listen
            enrol_server, self.enroll_port = _listening(
                enroll_listen,
                "enrolment ",
                lambda: build_enrollment_server(enroll_listen, EnrollmentServicer(paths, enrollment_store)),
            )
            stack.callback(lambda: enrol_server.stop(2).wait())
        if opts.console:
            from collector.console.server import start_console

            console = start_console(
                opts.console,
                data_dir=opts.data_dir,
                database_url=opts.database_url,
                cert=opts.console_cert or paths.server_cert,
                key=opts.console_key or paths.server_key,
                plain_http=opts.console_plain_http,
                events=store,
                workflow=workflow,
                writer=writer,
                org=config.org,
                on_sign_in_failed=metrics.sign_in_failures.inc,
                on_throttled=metrics.sign_in_throttled.inc,
            )
            stack.callback(console.stop)
            self.console_url = console.url

    def _start_checkpoints(
        self,
        stack: ExitStack,
        config: CollectorConfig,
        paths: PkiPaths,
        workflow_store: WorkflowStore,
        metrics: CollectorMetrics,
    ) -> None:
        """The thread that writes a signed audit checkpoint every ``[audit] checkpoint_s`` and sends it."""
        from collector.workflow.auto_checkpoints import AuditCheckpointer

        schedule = config.audit
        if schedule.interval_s <= 0:
            log.warning("automatic audit checkpoints are off ([audit] checkpoint_s = 0)")
            return
        checkpointer = AuditCheckpointer(
            workflow_store, paths, schedule.folder(self.options.data_dir), schedule, notify_channels(config),
            on_step=metrics.observe_checkpoint,
        )  # fmt: skip
        checkpointer.start()
        stack.callback(checkpointer.stop)

    def _start_ops(
        self,
        stack: ExitStack,
        address: str,
        metrics: CollectorMetrics,
        workflow: WorkflowService,
        workflow_store: WorkflowStore,
        runner: WorkflowRunner,
    ) -> str:
        """The plain-HTTP probe and metrics listener; its URL."""
        from collector.ops.figures import read_figures
        from collector.ops.metrics import StoreFigures
        from collector.ops.server import OpsServer, Readiness, ReadinessCheck

        def figures() -> StoreFigures:
            return read_figures(workflow_store, workflow.policy, workflow.clock())

        host, _, port = address.rpartition(":")
        readiness = ReadinessCheck(figures, runner.progressed_within, Readiness(self.options.ready_workflow_s))

        def bind() -> OpsServer:
            try:
                return OpsServer(host.strip("[]") or "127.0.0.1", int(port), metrics, readiness, figures)
            except ValueError as exc:
                raise OSError(f"not HOST:PORT ({exc})") from exc

        ops = _listening(address, "ops ", bind)
        ops.start()
        stack.callback(ops.stop)
        return f"http://{address}"


def _entered(stack: ExitStack, part: T, release: str) -> T:
    """Register ``part.<release>()`` on the stack as soon as the part exists."""
    stack.callback(getattr(part, release))
    return part


def _listening(address: str, what: str, bind: Callable[[], T]) -> T:
    """Run ``bind``; a port in use or a bad address becomes one ``ServeError`` line."""
    try:
        return bind()
    except (OSError, RuntimeError) as exc:
        raise ServeError(f"cannot listen {'for ' + what.strip() + ' ' if what else ''}on {address}: {exc}") from exc
