"""The viewer's command line: ``run --view`` is wired in, ``view`` refuses option mistakes in one
line before opening anything."""

from __future__ import annotations

import pytest

from stmocap.cli import build_parser, main


def test_run_has_view_and_keeps_its_handler() -> None:
    args = build_parser().parse_args(["run", "--source", "demo", "--view"])
    assert args.view is True and args.func.__name__ == "cmd"
    plain = build_parser().parse_args(["run", "--source", "demo"])
    assert plain.view is False


def test_overlay_without_record_is_a_one_line_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["view", "tcp://127.0.0.1:1", "--overlay", "demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overlay needs --record" in err[0]
