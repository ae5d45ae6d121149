"""The Open3D scene under Xvfb: a known pose renders like the stored golden image; meshes update
in place, switch to skeletons and disappear with their track.

Golden-image tolerance (Mesa llvmpipe, open3d 0.19.0, pinned in the ``viewer`` extra): mean
absolute difference ≤ 3 grey levels (of 255, over all channels) and ≥ 97 % of pixels within 16
levels on every channel. A different Mesa can move anti-aliased edges by a pixel, which this
absorbs; a wrong pose, colour, camera or floor does not pass. Regenerate after a deliberate change
with ``STMOCAP_UPDATE_GOLDEN=1 python -m pytest tests/viewer/test_scene.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
from stmocap.realtime.messages import Message, decode, encode
from stmocap.viewer import geometry as geo
from stmocap.viewer.sample import body_message
from stmocap.viewer.stream import StreamState

GOLDEN = Path(__file__).parent / "data" / "golden_two_people.png"
MEAN_ABS_MAX = 3.0
CLOSE_LEVELS = 16
CLOSE_FRACTION_MIN = 0.97


def _wire(state: StreamState, topic: str, msg: Message) -> None:
    """Through the real encoder and decoder, numbered per topic as the publisher does."""
    msg.seq = state.last_seq.get(topic, -1) + 1
    state.apply(topic, decode(encode(msg)))


def _two_people(sample_body) -> StreamState:  # type: ignore[no-untyped-def]
    state = StreamState(stale_s=60.0)
    _wire(state, "mesh.faces", Message(kind="faces", arrays={"faces": sample_body.faces}))
    for track, kw in ((0, {}), (1, {"x": 1.0, "depth": 3.5, "phase": 1.0})):
        arrays = sample_body.frame(**kw)
        body = body_message(arrays, frame_index=7, track=track)
        pose = body.derive("pose", {k: v for k, v in arrays.items() if k != "vertices"}, body.meta)
        _wire(state, "pose", pose)
        _wire(state, "mesh", body.derive("mesh", {"vertices": arrays["vertices"]}))
    return state


def _pixels_of(img: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Mask of saturated pixels whose hue is within 10° of a track colour's (lighting changes
    brightness, not hue)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int16)
    ref = cv2.cvtColor(np.uint8([[colour * 255]]), cv2.COLOR_RGB2HSV)[0, 0].astype(np.int16)
    dh = np.abs(hsv[..., 0] - ref[0])
    return (np.minimum(dh, 180 - dh) <= 5) & (hsv[..., 1] > 100) & (hsv[..., 2] > 60)


def test_known_pose_matches_golden_image(xdisplay: str, sample_body, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from stmocap.viewer.scene import Scene

    scene = Scene(640, 480, visible=False)
    try:
        scene.update(_two_people(sample_body))
        scene.render()
        img = scene.capture()
    finally:
        scene.close()
    cv2.imwrite(str(tmp_path / "rendered.png"), img[..., ::-1])
    assert img.shape == (480, 640, 3)
    # Both people are there, in their own colours, left (track 0, nearer) and right.
    for track in (0, 1):
        mask = _pixels_of(img, geo.track_colour(track))
        assert mask.sum() > 2000, f"track {track} is not drawn"
    x0 = np.nonzero(_pixels_of(img, geo.track_colour(0)))[1].mean()
    x1 = np.nonzero(_pixels_of(img, geo.track_colour(1)))[1].mean()
    assert x0 < x1  # the viewer stands at the camera's left, so +x_cam (track 1) is to the right
    if os.environ.get("STMOCAP_UPDATE_GOLDEN"):
        cv2.imwrite(str(GOLDEN), img[..., ::-1])
    assert GOLDEN.exists(), f"{GOLDEN} is missing (STMOCAP_UPDATE_GOLDEN=1 writes it)"
    golden = cv2.imread(str(GOLDEN))[..., ::-1]
    diff = np.abs(img.astype(np.int16) - golden.astype(np.int16))
    mean_abs = float(diff.mean())
    close = float((diff.max(axis=-1) <= CLOSE_LEVELS).mean())
    assert mean_abs <= MEAN_ABS_MAX and close >= CLOSE_FRACTION_MIN, (
        f"render differs from {GOLDEN.name}: mean abs {mean_abs:.2f} (max {MEAN_ABS_MAX}), "
        f"{close:.3%} of pixels close (min {CLOSE_FRACTION_MIN:.0%}); see {tmp_path}/rendered.png")


def test_meshes_update_in_place_toggle_and_leave(xdisplay: str, sample_body) -> None:  # type: ignore[no-untyped-def]
    from stmocap.viewer.scene import Scene

    scene = Scene(320, 240, visible=False)
    try:
        state = _two_people(sample_body)
        scene.update(state)
        first = scene._meshes[0]
        moved = state.persons[0].vertices + np.float32([0.0, 0.0, 0.5])
        state.persons[0].vertices = moved
        scene.update(state)
        assert scene._meshes[0] is first  # the same geometry, new vertices
        floor_lift = scene.world.camera_to_world
        np.testing.assert_allclose(np.asarray(first.vertices), geo.apply(floor_lift, moved), atol=1e-5)
        scene.show_mesh = False
        scene.update(state)
        assert not scene._meshes and set(scene._skeletons) == {0, 1}
        state.persons[1].updated_ns = time.monotonic_ns() - int(120e9)
        state.prune()
        scene.update(state)
        assert set(scene._skeletons) == {0}
        scene.render()
    finally:
        scene.close()


def test_world_frame_uses_published_placement_when_present(sample_body) -> None:  # type: ignore[no-untyped-def]
    arrays = sample_body.frame()
    world = geo.WorldFrame()
    world.update(arrays, arrays["vertices"])
    lifted = geo.apply(world.camera_to_world, arrays["vertices"])
    assert abs(lifted[:, 1].min()) < 1e-6  # fallback: the lowest vertex stands on y = 0
    assert lifted[:, 1].max() > 1.5  # y up: the raised hand is high
    T = np.eye(4, dtype=np.float32)
    T[1, 3] = 1.2
    world.update({**arrays, "T_world_cam": T})
    np.testing.assert_array_equal(world.camera_to_world, T)


def test_key_actions_follow_toggle_pause_reset(xdisplay: str, sample_body) -> None:  # type: ignore[no-untyped-def]
    from stmocap.viewer.app import Controls
    from stmocap.viewer.scene import Scene

    scene = Scene(320, 240, visible=False)
    try:
        state = _two_people(sample_body)
        keys = Controls(scene, state)
        keys.bind()  # P, R, F, M registered with the window
        scene.update(state)
        before = scene.vis.get_view_control().convert_to_pinhole_camera_parameters().extrinsic
        keys.follow_next()
        assert scene.follow == 0
        scene.update(state)
        following = scene.vis.get_view_control().convert_to_pinhole_camera_parameters().extrinsic
        assert not np.allclose(before, following)  # the view moved to track 0's pelvis
        keys.follow_next()
        assert scene.follow == 1
        keys.follow_next()
        assert scene.follow is None
        keys.toggle_mesh()
        scene.update(state)
        assert not scene._meshes and scene._skeletons
        keys.pause()
        assert keys.paused and keys.changed
        keys.reset()
        home = scene.vis.get_view_control().convert_to_pinhole_camera_parameters().extrinsic
        np.testing.assert_allclose(home, before, atol=1e-6)
    finally:
        scene.close()
