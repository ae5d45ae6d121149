"""Sources on real files: lossless reading, pacing, newest-frame grabbing, one-line errors."""

from __future__ import annotations

import itertools
import time
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
from stmocap.realtime.sources import (
    ImageFolderSource,
    LatestFrameGrabber,
    SourceConfig,
    SourceError,
    VideoFileSource,
    open_source,
)

from .conftest import write_video


def test_video_file_lossless(video_file: Path) -> None:
    with open_source(SourceConfig(source=str(video_file))) as src:
        assert isinstance(src, VideoFileSource) and not src.live
        assert src.size == (160, 120) and src.fps == pytest.approx(30.0)
        frames = list(src)
    assert [f.index for f in frames] == list(range(40))
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    # RGB order: the square was drawn red in BGR (0, 0, 255).
    assert frames[0].image[50, 10, 0] > 200 and frames[0].image[50, 10, 2] < 60
    assert all(a.t_capture_ns < b.t_capture_ns for a, b in itertools.pairwise(frames))


def test_video_file_realtime_paces_and_drops(tmp_path: Path) -> None:
    path = write_video(tmp_path / "fast.avi", 30, fps=100.0)
    with VideoFileSource(path, realtime=True) as src:
        t0 = time.monotonic()
        first = src.read()
        time.sleep(0.1)  # a slow consumer: ~10 frame periods pass
        late = src.read()
        rest = list(src)
        elapsed = time.monotonic() - t0
    assert first.index == 0 and late.index >= 8  # skipped ahead like a camera
    assert src.dropped == late.index - 1
    assert len(rest) + 2 + src.dropped == 30
    assert elapsed >= 0.25  # 30 frames at 100 fps cannot finish faster than real time


def test_image_folder(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((10, 12, 3), i * 50, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    with open_source(SourceConfig(source=str(tmp_path))) as src:
        assert isinstance(src, ImageFolderSource) and src.size == (12, 10)
        levels = [int(f.image.mean()) for f in src]
    assert levels == [0, 50, 100]


def test_errors_are_one_line(tmp_path: Path) -> None:
    cases = {
        str(tmp_path / "missing.mp4"): "source not found",
        str(tmp_path): "no images",
        "/dev/video99": "does not exist",
    }
    (tmp_path / "garbage.mp4").write_bytes(b"\0\1\2" * 1000)
    cases[str(tmp_path / "garbage.mp4")] = "cannot read video"
    for source, match in cases.items():
        with pytest.raises(SourceError, match=match) as info:
            open_source(SourceConfig(source=source))
        assert "\n" not in str(info.value)


def test_truncated_video(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.avi", 60, size=(320, 240))
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"truncated|cannot read"), VideoFileSource(cut, strict=True) as src:
        for _ in src:
            pass
    with VideoFileSource(cut) as src:  # default: what is there, the rest counted
        got = len(list(src))
    assert 0 < got < 60 and got + src.unreadable == 59  # the header's count, less the one tolerated


def test_bad_image_in_folder_is_skipped_and_counted(tmp_path: Path, corrupt_jpeg) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
    corrupt_jpeg(tmp_path / "2.jpg")
    (tmp_path / "4.jpg").write_bytes(b"not a jpeg")
    with ImageFolderSource(tmp_path) as src:
        frames = list(src)
    assert [f.index for f in frames] == [0, 1, 3]  # indices keep the content's clock
    assert src.unreadable == 2 and src.size == (64, 48)
    # the first image unreadable: the size comes from the first readable one
    corrupt_jpeg(tmp_path / "0.jpg")
    with ImageFolderSource(tmp_path) as src:
        assert [f.index for f in src] == [1, 3] and src.unreadable == 3


def test_bad_image_in_folder_with_strict_fails(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a png")
    with ImageFolderSource(tmp_path, strict=True) as src:
        src.read()
        with pytest.raises(SourceError, match=r"cannot read image .*b\.png"):
            src.read()


def test_folder_of_only_unreadable_images(tmp_path: Path, corrupt_jpeg) -> None:  # type: ignore[no-untyped-def]
    corrupt_jpeg(tmp_path / "a.jpg")
    with pytest.raises(SourceError, match="none of the 1 images"):
        ImageFolderSource(tmp_path)


def test_undecodable_video_frame_is_skipped_and_counted(tmp_path: Path, broken_frame_video) -> None:  # type: ignore[no-untyped-def]
    path = broken_frame_video(tmp_path / "broken.avi")
    with VideoFileSource(path) as src:
        frames = list(src)
    assert src.unreadable == 1
    assert [f.index for f in frames] == [i for i in range(20) if i != 10]
    # frame 11 is frame 11 (grey level 8·11), not frame 10's successor shifted
    assert abs(int(frames[10].image[0, 0, 0]) - 88) < 6
    with pytest.raises(SourceError, match="frame 10 of 20"), VideoFileSource(path, strict=True) as src:
        list(src)


def test_latest_frame_grabber_keeps_newest_and_counts_drops(tmp_path: Path) -> None:
    # A real capture (a file read as fast as it decodes) and a consumer slower than it.
    path = write_video(tmp_path / "g.avi", 200, size=(64, 48))
    cap = cv2.VideoCapture(str(path))
    grabber = LatestFrameGrabber(cap)
    got = []
    while (item := grabber.get(timeout=2.0)) is not None:
        got.append(item)
        time.sleep(0.01)
    grabber.stop()
    cap.release()
    assert grabber.ended
    assert 0 < len(got) < 200
    assert grabber.dropped + len(got) == 200
    times = [t for _, t, _ in got]
    assert times == sorted(times)
    # Each frame keeps its number among the grabbed ones: overwritten frames leave gaps that add up
    # to the drops (the wire's frame_index then tells drops apart; docs/protocol.md).
    numbers = [n for _, _, n in got]
    assert numbers == sorted(set(numbers)) and numbers[-1] == 199
    assert sum(b - a - 1 for a, b in pairwise(numbers)) + numbers[0] == grabber.dropped


def test_demo_needs_a_writable_cache(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from stmocap.realtime.sources import SourceConfig, SourceError, prepare_source

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STMOCAP_CACHE", str(blocker / "cache"))
    with pytest.raises(SourceError, match="STMOCAP_CACHE"):
        prepare_source(SourceConfig(source="demo"))
    assert prepare_source(SourceConfig(source="clip.mp4")) is None


def test_files_carry_video_time_cameras_capture_time() -> None:
    from stmocap.realtime.messages import content_time
    from stmocap.realtime.sources import Frame, WebcamSource, frame_message

    img = np.zeros((4, 4, 3), np.uint8)
    from_file = frame_message(Frame(5, img, 7_000_000_000), 25.0, 0, media_clock=True)
    assert from_file.meta["t_media"] == 0.2 and content_time(from_file) == 0.2
    from_camera = frame_message(Frame(5, img, 7_000_000_000), 25.0, 0)
    assert "t_media" not in from_camera.meta and content_time(from_camera) == 7.0
    assert not WebcamSource.media_clock
