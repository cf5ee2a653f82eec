"""What IT installs: the wheel and sdist hold every file the programs read, the installed wheel serves
the console from outside the checkout, and the agent's .deb installs, verifies and removes cleanly.

The wheel is built from the tracked files only (what a fresh clone holds), with setuptools' own
PEP 517 hooks. It is installed into a fresh virtual environment in a temporary directory, not
editable; that environment borrows the third-party libraries of the test interpreter through a
``.pth`` line (so nothing is downloaded), and the test proves the collector it runs is the installed one.
The .deb test needs root and dpkg (this Debian machine, as root in CI) and fails loudly without them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import free_port, wait_for
from tests.unit.classify import documents, synthetic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Where tracked files of each package live in the tree, and where they land in the wheel.
PACKAGE_ROOTS = {"agent/": "agent/", "collector/": "collector/", "protos/caseguard/": "caseguard/"}


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def runtime_data_files() -> set[str]:
    """Every tracked non-Python file inside the packages, as its path in the wheel."""
    found = set()
    for path in _tracked():
        for tree, installed in PACKAGE_ROOTS.items():
            if path.startswith(tree) and not path.endswith(".py") and "/__pycache__/" not in path:
                found.add(installed + path[len(tree):])
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) built from a copy of the tracked files."""
    base = tmp_path_factory.mktemp("build")
    src, dist = base / "src", base / "dist"
    dist.mkdir()
    for path in _tracked():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, src / path)
    subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta as b; b.build_wheel({str(dist)!r}); "
                               f"b.build_sdist({str(dist)!r})"],
        cwd=src, check=True, capture_output=True, timeout=300,
    )
    return next(dist.glob("*.whl")), next(dist.glob("*.tar.gz"))


def test_the_console_really_reads_files_from_the_package():
    # The list below would be vacuous if the console stopped reading templates and static files.
    data = runtime_data_files()
    assert {"collector/console/templates/base.html", "collector/console/static/console.css"} <= data


def test_wheel_and_sdist_hold_every_file_the_programs_read(built: tuple[Path, Path]):
    wheel, sdist = built
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(runtime_data_files() - in_wheel)
    assert not missing, f"the wheel lacks {missing}"
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = {name.removeprefix(top + "/") for name in tar.getnames()}
    tracked_data = {p for p in _tracked() if any(p.startswith(t) for t in PACKAGE_ROOTS) and not p.endswith(".py")}
    missing = sorted(tracked_data - in_sdist)
    assert not missing, f"the sdist lacks {missing}"


@pytest.fixture
def installed(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A fresh venv outside the checkout with the wheel installed (not editable); returns its bin/."""
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)  # not the checkout's venv
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(built[0])], check=True, timeout=300)
    # Third-party libraries only: the test interpreter's site-packages, after the venv's own, where
    # the editable checkout's finder is never activated (.pth files there are not processed).
    (purelib / "zz_borrowed_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c", "import collector, agent; print(collector.__file__, agent.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in where and all(p.startswith(str(purelib)) for p in where.split()), where
    return venv / "bin"


def test_the_installed_wheel_serves_the_console(installed: Path, tmp_path: Path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    collector = str(installed / "caseguard-collector")
    subprocess.run([collector, "pki", "init", "--data-dir", str(data)], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120)
    port, console = free_port(), free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [collector, "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
         "--console", f"127.0.0.1:{console}", "--console-plain-http"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        def up() -> bool:
            if proc.poll() is not None:
                log_text = (tmp_path / "serve.log").read_text()
                raise AssertionError(f"serve --console exited {proc.returncode}: {log_text}")
            try:
                return httpx.get(f"http://127.0.0.1:{console}/login", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 30, "the console from the installed wheel")
        page = httpx.get(f"http://127.0.0.1:{console}/login", timeout=5)
        assert "<form" in page.text and "/static/console.css" in page.text
        css = httpx.get(f"http://127.0.0.1:{console}/static/console.css", timeout=5)
        assert css.status_code == 200 and css.text == (REPO / "collector/console/static/console.css").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


# --- the agent's .deb ---------------------------------------------------------------------------


@pytest.fixture
def deb(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the .deb test installs a package and needs root (CI runs as root)", pytrace=False)
    for tool in ("dpkg", "dpkg-deb", "systemd-analyze", "systemd-sysusers"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: apt-get install -y dpkg systemd", pytrace=False)
    subprocess.run(["dpkg", "-r", "caseguard-agent"], capture_output=True)  # a leftover from an aborted run
    out = subprocess.run([str(REPO / "scripts/build_deb.sh"), str(tmp_path / "out")], capture_output=True, text=True,
                         env={**os.environ, "PYTHON": sys.executable}, timeout=600)
    assert out.returncode == 0, out.stderr
    yield Path(out.stdout.strip().splitlines()[-1])
    subprocess.run(["dpkg", "-r", "caseguard-agent"], capture_output=True)


def test_the_agent_deb_installs_verifies_runs_and_removes_cleanly(deb: Path, tmp_path: Path):
    listed = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/caseguard-agent", "./usr/lib/systemd/system/caseguard-agent.service",
                 "./usr/lib/systemd/user/caseguard-agent-session.service",
                 "./usr/lib/systemd/system-preset/80-caseguard-agent.preset",
                 "./usr/lib/systemd/user-preset/80-caseguard-agent.preset",
                 "./usr/lib/sysusers.d/caseguard-agent.conf",
                 "./etc/xdg/autostart/caseguard-agent-session.desktop",
                 "./opt/caseguard-agent/lib/agent/cli.py"):
        assert path in listed, f"{path} is not in the package"
    assert "./opt/caseguard-agent/lib/collector/" not in listed  # the collector is not part of the agent

    install = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    files = [Path(p) for p in subprocess.run(["dpkg", "-L", "caseguard-agent"], capture_output=True, text=True,
                                             check=True).stdout.split() if p != "/."]

    # Run from an unrelated directory with a plain environment: nothing from the checkout or its venv.
    clean_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    version = subprocess.run(["caseguard-agent", "--version"], cwd="/", env=clean_env, capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == "caseguard-agent 0.1.0", version
    help_text = subprocess.run(["caseguard-agent", "classify", "--help"], cwd="/", env=clean_env,
                               capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0, help_text.stderr
    # Loading a configuration runs the settings checks from the bundled code.
    bad = tmp_path / "agent.toml"
    bad.write_text('[collector]\naddresses = ["127.0.0.1:1"]\nbogus = 1\n')
    refused = subprocess.run(["caseguard-agent", "status", "--config", str(bad)], cwd="/", env=clean_env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "collector.bogus: unknown key" in refused.stderr, refused
    assert "Traceback" not in refused.stderr
    # The document readers are bundled: the installed agent judges a case-file PDF (read by pypdfium2
    # in its extraction worker) from the package alone.
    state = tmp_path / "classify-state"
    good = tmp_path / "classify.toml"
    good.write_text(f'state_dir = "{state}"\n[collector]\naddresses = ["127.0.0.1:1"]\nca = "ca.pem"\n'
                    'cert = "d.pem"\nkey = "d.key"\n')
    docs = tmp_path / "docs"
    docs.mkdir()
    rng = random.Random(3)
    paragraphs = synthetic.case_file_paragraphs(rng, paragraphs=12, reference="CS-104233")
    (docs / "note.pdf").write_bytes(documents.make_pdf(paragraphs))
    judged = subprocess.run(["caseguard-agent", "classify", "--config", str(good), "--json", str(docs / "note.pdf")],
                            cwd="/", env=clean_env, capture_output=True, text=True, timeout=120)
    assert judged.returncode == 0 and "Traceback" not in judged.stderr, judged
    verdict = json.loads(judged.stdout.splitlines()[-1])
    assert verdict["case_file"] is True and not verdict.get("error"), verdict
    assert subprocess.run(["getent", "passwd", "caseguard-agent"], capture_output=True).returncode == 0
    assert Path("/etc/caseguard").is_dir()

    system = subprocess.run(["systemd-analyze", "verify", "/usr/lib/systemd/system/caseguard-agent.service"],
                            capture_output=True, text=True, timeout=60)
    output = (system.stdout + system.stderr).strip()
    assert system.returncode == 0 and output == "", f"systemd-analyze verify:\n{output}"
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    user = subprocess.run(
        ["systemd-analyze", "--user", "verify", "/usr/lib/systemd/user/caseguard-agent-session.service"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    output = (user.stdout + user.stderr).strip()
    assert user.returncode == 0 and output == "", f"systemd-analyze --user verify:\n{output}"

    remove = subprocess.run(["dpkg", "-r", "caseguard-agent"], capture_output=True, text=True, timeout=300)
    assert remove.returncode == 0, remove.stdout + remove.stderr
    # dpkg keeps a removed package's maintainer scripts (postrm, for --purge) and its conffiles;
    # it has none of the latter, so no file of it is left.
    status = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}|${Conffiles}", "caseguard-agent"],
                            capture_output=True, text=True)
    assert status.returncode != 0 or status.stdout in ("not-installed|", "config-files|"), status.stdout
    left = [str(p) for p in files if (p.exists() and not p.is_dir()) or
            (p.is_dir() and str(p).startswith(("/opt/caseguard-agent", "/etc/caseguard")))]
    assert not left, f"left behind after dpkg -r: {left}"
    assert not Path("/opt/caseguard-agent").exists() and not Path("/etc/caseguard").exists()
    purge = subprocess.run(["dpkg", "--purge", "caseguard-agent"], capture_output=True, text=True, timeout=300)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    gone = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", "caseguard-agent"], capture_output=True,
                          text=True)
    assert gone.returncode != 0 or gone.stdout == "not-installed", gone.stdout
