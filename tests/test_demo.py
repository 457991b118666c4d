"""``cpoc demo`` and ``cpoc serve`` as a new user meets them: real subprocesses on 127.0.0.1.

SIGTERM stops the embedded FHIR server too; ``--once`` says nothing about servers it has
already stopped; the banner's story is the record's; a port in use is one line and exit 2;
logs redirected to a file or pipe carry no ANSI colours.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import requests

from cds_hooks.demo import run_demo
from cds_hooks.embedded_fhir import free_port, sekmet_executable
from cds_hooks.logs import PlainFormatter, configure_logging
from cpoc_fhir.cli import main

CPOC = Path(sys.executable).with_name("cpoc")
REPO = Path(__file__).resolve().parents[1]
needs_sekmet = pytest.mark.skipif(sekmet_executable() is None, reason="sekmet-fhir missing")
# Appendix A's record on the demo date (2025-11-10): FOLFOX ended in August; the latest
# disease status is the 2025-11-05 "Not detected" (scripts/make_examples.py, appendix_a).
STORY = (
    "FOLFIRI (irinotecan, leucovorin, fluorouracil) during surveillance after adjuvant FOLFOX; "
    "disease status on record: not detected (2025-11-05)"
)


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


@contextmanager
def demo_process(directory: Path) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPOC_")}
    process = subprocess.Popen(
        [str(CPOC), "demo", "--port", "0", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield process
    finally:  # a failed test must not leave servers behind either
        children = children_of(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        process.communicate(timeout=30)
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def read_banner(process: subprocess.Popen[str]) -> str:
    """stdout up to the banner's last line."""
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "the demo ended before its banner:\n" + "".join(lines)
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(lines)
    raise AssertionError("no banner within 90 s:\n" + "".join(lines))


@needs_sekmet
def test_sigterm_stops_the_demo_and_its_embedded_fhir_server(tmp_path: Path) -> None:
    with demo_process(tmp_path / "demo") as process:
        banner = read_banner(process)
        fhir = re.search(r"Embedded FHIR server:\s+(\S+)", banner)
        service = re.search(r"CPOC CDS Hooks service:\s+(\S+)", banner)
        assert fhir and service, banner
        assert f"Order-sign for the Appendix A patient: {STORY}:" in banner
        assert "curl -s -X POST" in banner and "progression" not in banner
        assert requests.get(f"{fhir.group(1)}/metadata", timeout=10).status_code == 200
        # A 404 is a coloured request line in werkzeug's own handler.
        root = service.group(1).removesuffix("/cds-services")
        assert requests.get(f"{root}/nowhere", timeout=10).status_code == 404
        sekmet = children_of(process.pid)
        assert sekmet, "the embedded FHIR server is a child process"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        out, err = process.communicate(timeout=10)
    assert "Stopped the CDS service and the embedded FHIR server." in out
    assert not [pid for pid in sekmet if alive(pid)], "sekmet outlived the demo"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fhir.group(1)}/metadata", timeout=5)
    assert '"GET /nowhere HTTP/1.1" 404' in err
    assert "\x1b[" not in err  # stderr is a pipe here: no colours
    assert "Traceback" not in err
    assert "CPOC_REVIEW_SECRET_KEY" not in err  # the review app is off in the demo


@needs_sekmet
def test_once_calls_order_sign_and_mentions_no_server_left_running(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_demo(tmp_path / "demo", 0, date(2025, 11, 10), True, out)
    text = out.getvalue()
    assert code == 0, text
    assert f"Calling order-sign once for the Appendix A patient: {STORY}" in text
    assert "order-sign → HTTP 200" in text
    assert "[info] CPOC xx203: Treatment Month 9, level 3 (score 7)" in text
    assert "Ctrl-C" not in text and "curl" not in text
    assert text.rstrip().endswith("Stopped the CDS service and the embedded FHIR server.")


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after (``main`` configures it)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_in_use_is_one_line_and_exit_2(
    tmp_path: Path,
    taken_port: int,
    capsys: pytest.CaptureFixture[str],
    root_logging: logging.Logger,
) -> None:
    expected = (
        f"cpoc: port {taken_port} on 127.0.0.1 is already in use (another cpoc serve or demo?): "
        "stop that, or choose another with --port (0: any free port)\n"
    )
    # The demo checks before starting its FHIR server: nothing is started, nothing is left.
    started = time.monotonic()
    assert main(["demo", "--port", str(taken_port), "--dir", str(tmp_path / "d")]) == 2
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err.endswith(expected)
    assert not (tmp_path / "d").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPOC_")}
    env.update({"CPOC_CDS_AUTH": "off", "CPOC_STORE_URL": f"sqlite:///{tmp_path}/s.sqlite"})
    done = subprocess.run(
        [str(CPOC), "serve", "--port", str(taken_port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == expected
    assert "Traceback" not in done.stderr


def test_serve_stops_on_sigterm_with_exit_0(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPOC_")}
    env.update({"CPOC_CDS_AUTH": "off", "CPOC_STORE_URL": f"sqlite:///{tmp_path}/s.sqlite"})
    process = subprocess.Popen(
        [str(CPOC), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "CPOC CDS Hooks service on" in process.stdout.readline()
        assert requests.get(f"http://127.0.0.1:{port}/nowhere", timeout=10).status_code == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate(timeout=10)
    assert "404" in err and "\x1b[" not in err and "Traceback" not in err


def test_log_lines_are_plain_unless_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    record = logging_record('"\x1b[33mGET /x HTTP/1.1\x1b[0m" 404 -')
    plain = PlainFormatter(io.StringIO()).format(record)
    assert plain.endswith('werkzeug: "GET /x HTTP/1.1" 404 -')
    assert "\x1b[33m" in PlainFormatter(Terminal()).format(record)


def test_configure_logging_replaces_its_own_handler_only(root_logging: logging.Logger) -> None:
    before = len(root_logging.handlers)
    first, second = io.StringIO(), io.StringIO()
    configure_logging(first)
    configure_logging(second)
    assert len(root_logging.handlers) == before + 1
    logging.getLogger("cds_hooks.x").info("once")
    logging.getLogger("alembic.runtime").info("migration step")
    assert first.getvalue() == ""
    assert second.getvalue().endswith("INFO cds_hooks.x: once\n")


def logging_record(message: str) -> logging.LogRecord:
    return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, message, None, None)


def test_the_demo_folder_is_git_ignored() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", "cpoc-demo/fhir/data/db.sqlite"],
        check=False,
        timeout=30,
    )
    assert done.returncode == 0
