"""The Spark paths' progress policy (issue 17 item 6), without Spark: Spark's own stage bar
(``spark.ui.showConsoleProgress``, drawn by the JVM on stderr) is on exactly when the bar
policy of every command shows a bar — stderr a terminal and no ``--no-progress`` — and a
``--spark-conf`` the user gives wins either way. The waves' bar of the server capture is
checked with Spark in test_spark_server.py."""

from __future__ import annotations

import io

import pytest

from cpoc_fhir.cli import build_parser
from cpoc_fhir.progress import shown
from cpoc_fhir.spark.session import console_progress, session_conf

KEY = "spark.ui.showConsoleProgress"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "quiet", "expected"),
    [(_Tty(), False, True), (_Tty(), True, False), (io.StringIO(), False, False)],
    ids=["terminal", "terminal --no-progress", "pipe"],
)
def test_spark_draws_its_bar_by_the_bar_policy(
    stream: io.StringIO, quiet: bool, expected: bool
) -> None:
    assert console_progress(quiet, stream) is expected is shown(stream, quiet)
    conf = session_conf("local[2]", {}, console_progress(quiet, stream))
    assert conf[KEY] == ("true" if expected else "false")


def test_a_users_spark_conf_wins_and_the_default_is_off() -> None:
    assert session_conf("local[2]", {})[KEY] == "false"  # a caller that says nothing: quiet
    assert session_conf("local[2]", {KEY: "false"}, console=True)[KEY] == "false"
    assert session_conf("local[2]", {KEY: "true"}, console=False)[KEY] == "true"
    assert session_conf("yarn", {}, console=True)[KEY] == "true"  # any master, not only local


@pytest.mark.parametrize(
    "argv",
    [
        ["timeline", "x", "--engine", "spark", "--out", "o"],
        ["capture", "--month", "2025-09", "--engine", "spark", "--ndjson", "x", "--out", "o"],
    ],
    ids=["timeline", "capture"],
)
def test_the_spark_commands_take_no_progress(argv: list[str]) -> None:
    # spark/cli.py reads args.no_progress for the policy: both parsers must give it.
    assert build_parser().parse_args(argv).no_progress is False
    assert build_parser().parse_args([*argv, "--no-progress"]).no_progress is True
