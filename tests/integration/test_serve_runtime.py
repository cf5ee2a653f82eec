"""`serve` releases everything it started, whichever part fails to start.

Real parts in this process: the real PKI, SQLite stores, gRPC servers, uvicorn console and
workflow thread. Each failure is a real one (a port another socket holds, a certificate
file that is not there). Afterwards the test looks at the process itself: no thread of
ours alive, no socket listening, no store file open.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from collector.cli.main import main
from collector.errors import EXIT_FAILED, EXIT_USAGE
from collector.pki import PkiPaths, init_pki
from collector.runtime import CollectorRuntime, ServeError, ServeOptions


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "collector"
    init_pki(PkiPaths.in_data_dir(d), [])
    return d


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def _listening_ports() -> set[int]:
    return {c.laddr.port for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN}


def _open_under(folder: Path) -> list[str]:
    return sorted({f.path for f in psutil.Process().open_files() if Path(f.path).is_relative_to(folder)})


def _our_threads(before: set[int]) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.ident not in before and t.is_alive())


def assert_released(data_dir: Path, threads_before: set[int], ports_before: set[int]) -> None:
    """Nothing serve started is still running, listening or holding a store open."""
    deadline = time.monotonic() + 10
    while _our_threads(threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _our_threads(threads_before) == []
    assert _listening_ports() - ports_before == set()
    assert _open_under(data_dir) == []


def _serve(data_dir: Path, *extra: str) -> int:
    return main(["serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0", *extra])


@pytest.fixture
def before() -> tuple[set[int], set[int]]:
    return {t.ident for t in threading.enumerate() if t.ident is not None}, _listening_ports()


def test_agents_port_in_use(
    data_dir: Path, busy_port: int, before: tuple[set[int], set[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{busy_port}"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILED and f"cannot listen on 127.0.0.1:{busy_port}" in err and "Traceback" not in err
    assert_released(data_dir, *before)


def test_enrolment_port_in_use(
    data_dir: Path, busy_port: int, before: tuple[set[int], set[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = _serve(data_dir, "--enroll-listen", f"127.0.0.1:{busy_port}")
    err = capsys.readouterr().err
    assert code == EXIT_FAILED and f"cannot listen for enrolment on 127.0.0.1:{busy_port}" in err
    assert_released(data_dir, *before)


def test_console_port_in_use(
    data_dir: Path, busy_port: int, before: tuple[set[int], set[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = _serve(data_dir, "--enroll-listen", "127.0.0.1:0", "--console", f"127.0.0.1:{busy_port}")
    err = capsys.readouterr().err
    assert code != 0 and f"cannot listen on 127.0.0.1:{busy_port}" in err and "Traceback" not in err
    assert_released(data_dir, *before)


def test_console_certificate_missing(
    data_dir: Path, tmp_path: Path, before: tuple[set[int], set[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-cert.pem"
    code = _serve(
        data_dir, "--enroll-listen", "127.0.0.1:0", "--console", "127.0.0.1:0",
        "--console-cert", str(missing), "--console-key", str(missing),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and str(missing) in err and "Traceback" not in err
    assert_released(data_dir, *before)


def test_missing_configuration_file(
    data_dir: Path, tmp_path: Path, before: tuple[set[int], set[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = _serve(data_dir, "--config", str(tmp_path / "nope.toml"))
    assert code == EXIT_USAGE and "no such configuration file" in capsys.readouterr().err
    assert_released(data_dir, *before)


def test_every_part_up_then_every_part_released(data_dir: Path, before: tuple[set[int], set[int]]) -> None:
    options = ServeOptions(
        data_dir=data_dir, listen="127.0.0.1:0", enroll_listen="127.0.0.1:0", console="127.0.0.1:0"
    )
    runtime = CollectorRuntime(options)
    with runtime:
        assert runtime.running and runtime.port and runtime.enroll_port and runtime.console_url
        listening = _listening_ports()
        assert {runtime.port, runtime.enroll_port} <= listening
        assert any(name.endswith("collector.sqlite3") for name in _open_under(data_dir))
        runtime.start()  # a second start is a no-op, not a second set of servers
        assert _listening_ports() == listening
    assert not runtime.running
    runtime.stop()  # and a second stop is harmless
    assert_released(data_dir, *before)


def test_a_failed_start_raises_one_error_and_can_be_retried(data_dir: Path, busy_port: int) -> None:
    runtime = CollectorRuntime(ServeOptions(data_dir=data_dir, listen=f"127.0.0.1:{busy_port}"))
    with pytest.raises(ServeError, match="cannot listen on"):
        runtime.start()
    assert not runtime.running
    assert _open_under(data_dir) == []
