"""Packaging: the layer folders install as stmocap.<folder>; README and CI stay in sync."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import uuid
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed() -> None:
    setup = _pyproject()["tool"]["setuptools"]
    mapping: dict[str, str] = setup["package-dir"]
    listed = set(setup["packages"])
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]))
    assert found == listed, f"pyproject packages differ from folders: {found ^ listed}"


def test_new_module_is_importable_in_editable_install(tmp_path: Path) -> None:
    name = f"_probe_{uuid.uuid4().hex[:8]}"
    probe = ROOT / "realtime" / f"{name}.py"
    probe.write_text("VALUE = 42\n")
    try:
        # Run outside the repository so only the installed (editable) mapping can resolve it.
        out = subprocess.run(
            [sys.executable, "-c", f"import stmocap.realtime.{name} as m; print(m.VALUE)"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )
    finally:
        probe.unlink()
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


@pytest.mark.slow
def test_wheel_contains_every_layer(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheel = next(tmp_path.glob("stmocap-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("stmocap/cli.py", "stmocap/models/temporal/sta.py", "stmocap/models/body/lbs.py",
                 "stmocap/realtime/windows.py", "stmocap/evaluation/metrics.py",
                 # Shipped data and their licence notices.
                 "stmocap/models/body/data/free_body.npz", "stmocap/models/body/data/NOTICE",
                 "stmocap/groundtruth/data/deepmimic_smpl.npz",
                 "stmocap/groundtruth/data/cmu_smpl.npz", "stmocap/groundtruth/data/NOTICE",
                 "stmocap/models/blazepose/data/NOTICE",
                 "stmocap/models/temporal/data/lite_l2.pt", "stmocap/models/temporal/data/lite_l7.pt",
                 "stmocap/models/temporal/data/lite_l0_taps.json",
                 "stmocap/models/temporal/data/lite_l2_taps.json",
                 "stmocap/models/temporal/data/lite_l7_taps.json",
                 "stmocap/models/temporal/data/NOTICE"):
        assert path in names
    assert not any(n.startswith(("tests/", "models/", "realtime/")) for n in names)
    # The installed wheel imports from site-packages alone.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, "-c", "import stmocap.models.temporal.network as n; print(n.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""}, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(target))


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    commands = _readme_commands()
    assert len(commands) >= 2
    test_command = commands[1].strip()
    assert "pytest" in test_command and "torch==2.13.0" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in commands[0]
