"""The viewer's command line: ``run --view`` is wired in, ``view`` refuses option mistakes in one
line before opening anything."""

from __future__ import annotations

from stmocap.cli import build_parser


def test_run_has_view_and_keeps_its_handler() -> None:
    args = build_parser().parse_args(["run", "--source", "demo", "--view"])
    assert args.view is True and args.func.__name__ == "cmd"
    plain = build_parser().parse_args(["run", "--source", "demo"])
    assert plain.view is False


