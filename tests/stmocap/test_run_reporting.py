"""``stmocap run`` says what happened: unreadable images and video frames are skipped and counted
(``--strict`` stops), frames with no person and frames with more people than followed are
reported in the status line and the ``done:`` summary. Real runs on real files."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).parents[2]


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmocap", "run", "--endpoint", _endpoint(), *args],
                          capture_output=True, text=True, timeout=300)


def _done(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, out.stderr
    return next(line for line in out.stderr.splitlines() if line.startswith("done:"))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("media")
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_replay_media.py"), str(out),
                           "--frames", "20", "--size", "160x120"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return out


def _replay(media: Path, source: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run("--source", str(source), "--profile", "replay", "--estimates",
                str(media / "estimates.npz"), "--window", "4", *extra)


def test_corrupt_jpeg_in_folder_is_skipped_and_reported(media: Path, tmp_path: Path,
                                                        corrupt_jpeg) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "images"
    folder.mkdir()
    cap = cv2.VideoCapture(str(media / "clip.avi"))
    for i in range(8):
        ok, img = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), img)
    cap.release()
    corrupt_jpeg(folder / "003.jpg", (160, 120))
    done = _done(_replay(media, folder))
    assert "done: 7 frames" in done and "unreadable 1" in done
    strict = _replay(media, folder, "--strict")
    assert strict.returncode == 2 and "Traceback" not in strict.stderr, strict.stderr
    assert "cannot read image" in strict.stderr and "003.jpg" in strict.stderr


def test_undecodable_video_frame_is_skipped_and_reported(media: Path, tmp_path: Path,
                                                         broken_frame_video) -> None:  # type: ignore[no-untyped-def]
    video = broken_frame_video(tmp_path / "broken.avi", frames=20, broken=10)
    done = _done(_replay(media, video))
    assert "done: 19 frames" in done and "unreadable 1" in done
    strict = _replay(media, video, "--strict")
    assert strict.returncode == 2 and "frame 10 of 20" in strict.stderr, strict.stderr


def _video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_video_without_a_person_says_so(tmp_path: Path) -> None:
    from stmocap.realtime.sources import demo_frames

    person = demo_frames(2, (320, 240))[0]
    tiny = np.full((240, 320, 3), 32, np.uint8)  # the same person, too small to detect
    tiny[100:124, 150:166] = cv2.resize(person, (16, 24))
    video = _video(tmp_path / "nobody.avi", [tiny] * 6)
    out = _run("--source", str(video))
    done = _done(out)
    assert "done: 0 frames" in done and "no person 6" in done
    assert "no person was found in any of the 6 frames" in out.stderr
    assert any("| no person" in line for line in out.stderr.splitlines() if "fps |" in line)


def test_several_people_are_reported(tmp_path: Path) -> None:
    from stmocap.realtime.sources import demo_frames

    person = cv2.resize(demo_frames(2, (640, 480))[0], (320, 480))
    two = np.concatenate([person, person], 1)
    video = _video(tmp_path / "two.avi", [two] * 4)
    out = _run("--source", str(video))
    done = _done(out)
    assert "done: 4 frames" in done and "more people than followed 1" in done
    assert "follows one" in out.stderr
