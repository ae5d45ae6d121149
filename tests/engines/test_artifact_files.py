"""Every file of an artefact is hashed at export and checked at load (issue 10: a corrupted
``*.onnx.data`` used to load and make the run publish NaN)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from stmocap.engines.artifact import ArtifactMismatchError, read_sidecar
from stmocap.engines.factory import open_model_engine
from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine
from stmocap.export.catalog import build_model
from stmocap.export.onnx_export import export_onnx


@pytest.fixture(scope="module")
def temporal_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny temporal network exported once (its weights go to ``t.onnx.data``)."""
    path = tmp_path_factory.mktemp("artefact") / "t.onnx"
    export_onnx(build_model("temporal", "tiny"), path)
    return path


def _copy(src: Path, folder: Path) -> Path:
    for f in src.parent.iterdir():
        if f.name.startswith(src.name):
            shutil.copy(f, folder / f.name)
    return folder / src.name


def _corrupt(path: Path, at: int = 4096) -> None:
    """Overwrite 64 bytes with 0xFF: float32 NaNs, the way a bad disk or copy leaves weights."""
    raw = bytearray(path.read_bytes())
    raw[at:at + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))


def _video(path: Path, frames: int) -> Path:
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 8 * i, np.uint8))
    writer.release()
    return path


def _estimates(path: Path, frames: int) -> Path:
    """Identity poses (6D ``[1, 0, 0, 0, 1, 0]`` per joint), mean shape, a centred camera and
    the features the tiny temporal network reads."""
    import numpy as np

    pose = np.tile(np.array([1, 0, 0, 0, 1, 0], np.float32), (frames, 24, 1))
    np.savez(path, pose_6d=pose, betas=np.zeros((frames, 10), np.float32),
             cam=np.tile(np.array([0.8, 0, 0], np.float32), (frames, 1)),
             feats=np.zeros((frames, 16, 28, 28), np.float32))  # the tiny network's features
    return path


def test_sidecar_records_every_file(temporal_onnx: Path) -> None:
    meta = read_sidecar(temporal_onnx)
    assert set(meta.files) == {"t.onnx", "t.onnx.data"}
    assert all(len(d) == 64 for d in meta.files.values())
    OnnxRuntimeEngine(temporal_onnx).close()  # intact: loads


def test_corrupted_external_weights_are_refused(temporal_onnx: Path, tmp_path: Path) -> None:
    path = _copy(temporal_onnx, tmp_path)
    _corrupt(Path(str(path) + ".data"))
    with pytest.raises(ArtifactMismatchError) as err:
        OnnxRuntimeEngine(path)
    line = str(err.value)
    assert "\n" not in line and "t.onnx.data does not match" in line
    assert "stmocap export --model temporal" in line and f"delete {tmp_path}" in line


def test_missing_external_weights_are_refused(temporal_onnx: Path, tmp_path: Path) -> None:
    path = _copy(temporal_onnx, tmp_path)
    Path(str(path) + ".data").unlink()
    with pytest.raises(ArtifactMismatchError, match=r"t\.onnx\.data is missing"):
        OnnxRuntimeEngine(path)


def test_corrupted_cached_model_ends_the_run_in_one_line(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph's own cache: the temporal stage refuses the corrupted weights at start-up."""
    from stmocap.realtime.filters import FilterConfig
    from stmocap.realtime.graph import GraphError, run_graph
    from stmocap.realtime.pipeline import (
        GraphConfig,
        PerFrameConfig,
        PipelineConfig,
        PublishConfig,
        TemporalConfig,
    )
    from stmocap.realtime.sources import SourceConfig

    monkeypatch.setenv("STMOCAP_CACHE", str(tmp_path / "cache"))
    engine = open_model_engine("temporal", "tiny", backend="onnxruntime")  # fills the cache
    engine.close()
    data = next((tmp_path / "cache" / "onnx").glob("temporal-*.onnx.data"))
    _corrupt(data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    cfg = PipelineConfig(
        source=SourceConfig(source=str(_video(tmp_path / "clip.avi", 20))),
        smoothing=FilterConfig(filter="none"),
        perframe=PerFrameConfig(profile="replay", estimates=_estimates(tmp_path / "e.npz", 20)),
        temporal=TemporalConfig(temporal="net", preset="tiny", engine="onnxruntime"),
        publish=PublishConfig(endpoint=endpoint), graph=GraphConfig())
    with pytest.raises(GraphError, match=r"temporal: ArtifactMismatchError: .*\.onnx\.data does "
                                         r"not match .*stmocap export --model temporal"):
        run_graph(cfg)
