"""Render an SMPL motion on the free body into the video a camera would see, with exact ground truth.

World frame: SMPL's (metres, y up, ground at y = 0, the clip starts facing +z). The camera follows
the subject: it looks at the subject's (smoothed) pelvis from a fixed azimuth/elevation/distance, so
the person stays large in the frame; its pose is recorded per frame (``p_cam = R · p_world + t``,
OpenCV axes). Everything random (clothes, skin tone, background, light, occluders) comes from
``seed``, so a clip is reproducible bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from stmocap.groundtruth.motions import Motion
from stmocap.groundtruth.render import Light, PinholeCamera, render_mesh
from stmocap.models.body.model import BodyModel
from stmocap.models.camera import focal_from_fov

from stmocap.files import temporary_beside
from stmocap.validate import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Range

RENDER_VERSION = "1"  # bump when the renderer or scene changes what a clip looks like
_SKIN = ((0.55, 0.65, 0.85), (0.45, 0.55, 0.75), (0.30, 0.40, 0.60), (0.20, 0.27, 0.42))  # BGR
_LEG_JOINTS = (0, 1, 2, 4, 5)
_SHIRT_JOINTS = (3, 6, 9, 13, 14, 16, 17)
_FEET_JOINTS = (7, 8, 10, 11)


@dataclass(frozen=True)
class SceneConfig:
    """How a clip is filmed."""

    width: int = field(default=640, metadata={"check": AT_LEAST_ONE, "help": "image width in pixels"})
    height: int = field(default=480, metadata={"check": AT_LEAST_ONE, "help": "image height in pixels"})
    fov: float = field(default=60.0, metadata={"check": Range(1, 179),
        "help": "field of view across the longer side, degrees"})
    azimuth: float = field(default=20.0, metadata={
        "help": "camera direction around the subject, degrees (0: in front of the clip's start pose)"})
    elevation: float = field(default=8.0, metadata={"help": "camera height angle, degrees"})
    distance: float = field(default=3.4, metadata={"check": POSITIVE,
        "help": "camera distance to the pelvis, metres"})
    follow: int = field(default=15, metadata={"check": NON_NEGATIVE,
        "help": "the camera follows the pelvis smoothed over ± this many frames (0: fixed camera)"})
    background: Literal["plain", "noise", "image"] = field(default="noise", metadata={
        "help": "plain colour, smooth colour noise, or --background-image"})
    background_image: Path | None = field(default=None, metadata={"help": "image for background=image"})
    floor: bool = field(default=True, metadata={"help": "draw a tiled floor"})
    occluders: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "moving rectangles in front of the subject"})
    light_jitter: float = field(default=0.3, metadata={"check": NON_NEGATIVE,
        "help": "light direction variation (0: none)"})
    seed: int = field(default=0, metadata={"help": "everything random comes from this"})


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame (``J = 24`` SMPL joints).

    Attributes:
        pose: ``(24, 3)`` axis-angle, root in the world frame.
        betas: ``(10,)``.
        transl: ``(3,)`` world.
        cam_rot, cam_t: world → camera, ``(3, 3)`` and ``(3,)``.
        joints3d: ``(24, 3)`` camera frame, metres.
        joints2d: ``(24, 2)`` pixels.
        box: ``(4,)`` x0, y0, x1, y1 of the projected mesh, clipped to the image.
    """

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    cam_rot: np.ndarray
    cam_t: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray
    box: np.ndarray


def render_digest(body_file: Path, *parts: bytes) -> str:
    """Short hash naming a cached render: renderer version, body model file, then ``parts``
    (motion, scene…); it changes whenever any input of the picture does."""
    import hashlib

    h = hashlib.sha256(RENDER_VERSION.encode())
    h.update(Path(body_file).read_bytes())
    for part in parts:
        h.update(part)
    return h.hexdigest()[:12]


def look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World → OpenCV camera ``(R, t)`` for a camera at ``eye`` looking at ``target`` (y up)."""
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


def _smooth(x: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return np.repeat(x.mean(0, keepdims=True), len(x), 0)
    pad = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)])
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    return np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(x.shape[1])], 1)


def _background(cfg: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    H, W = cfg.height, cfg.width
    if cfg.background == "image":
        if cfg.background_image is None:
            raise ValueError("background=image needs background_image")
        img = cv2.imread(str(cfg.background_image))
        if img is None:
            raise ValueError(f"cannot read background image {cfg.background_image}")
        return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
    if cfg.background == "plain":
        return np.full((H, W, 3), rng.integers(90, 230, 3), np.uint8)
    coarse = rng.uniform(60, 220, (6, 8, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def _floor_mesh(centre: np.ndarray, half: float = 8.0, tile: float = 0.5) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray]:
    n = int(2 * half / tile)
    xs = centre[0] - half + tile * np.arange(n + 1)
    zs = centre[2] - half + tile * np.arange(n + 1)
    gx, gz = np.meshgrid(xs, zs, indexing="ij")
    verts = np.stack([gx.ravel(), np.zeros(gx.size), gz.ravel()], 1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, d, c], 1), np.stack([a, c, b], 1)])  # normals up (+y)
    checker = ((np.arange(n)[:, None] + np.arange(n)[None]) % 2).ravel()
    shade = np.where(np.concatenate([checker, checker]) == 1, 0.62, 0.48)
    return verts, faces, np.repeat(shade[:, None], 3, 1) * np.array([0.9, 0.95, 1.0])


def _face_colors(body: BodyModel, rng: np.random.Generator) -> np.ndarray:
    dominant = body.weights.argmax(1).numpy()[body.faces[:, 0]]
    colors = np.tile(np.asarray(_SKIN[rng.integers(len(_SKIN))]), (len(body.faces), 1))
    colors[np.isin(dominant, _LEG_JOINTS)] = rng.uniform(0.1, 0.7, 3)
    colors[np.isin(dominant, _SHIRT_JOINTS)] = rng.uniform(0.1, 0.9, 3)
    colors[np.isin(dominant, _FEET_JOINTS)] = rng.uniform(0.05, 0.3, 3)
    return colors


def render_motion(motion: Motion, body: BodyModel, cfg: SceneConfig = SceneConfig()
                  ) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Yield ``(image (H, W, 3) uint8 BGR, truth)`` per frame of ``motion``."""
    from stmocap.models.rotations import axis_angle_to_matrix

    rng = np.random.default_rng(cfg.seed)
    camera = PinholeCamera.centred(focal_from_fov(cfg.fov, cfg.width, cfg.height), cfg.width, cfg.height)
    background = _background(cfg, rng)
    colors = _face_colors(body, rng)
    T = motion.num_frames
    betas = np.tile(motion.betas, (T, 1))
    with torch.no_grad():
        out = body(axis_angle_to_matrix(torch.from_numpy(motion.poses)).float(),
                   torch.from_numpy(betas).float(),
                   torch.from_numpy(motion.transl).float())
    verts_w = out.vertices.double().numpy()
    joints_w = out.joints.double().numpy()
    pelvis = _smooth(joints_w[:, 0], cfg.follow)
    az, el = np.radians(cfg.azimuth), np.radians(cfg.elevation)
    direction = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    floor = _floor_mesh(joints_w[:, 0].mean(0)) if cfg.floor else None
    occluders = [(rng.uniform(0.05, 0.25) * cfg.width, rng.uniform(0.15, 0.5) * cfg.height,
                  rng.uniform(0, cfg.width), rng.uniform(0.2, 0.8) * cfg.height,
                  rng.uniform(-4, 4), tuple(int(c) for c in rng.integers(0, 255, 3)))
                 for _ in range(cfg.occluders)]
    light_phase = rng.uniform(0, 2 * np.pi, 3)
    for t in range(T):
        target = np.array([pelvis[t, 0], max(pelvis[t, 1], 0.5), pelvis[t, 2]])
        R, tvec = look_at(target + cfg.distance * direction, target)
        img = background.copy()
        wobble = cfg.light_jitter * np.sin(2 * np.pi * t / 90.0 + light_phase)
        light = Light(direction=(0.3 + wobble[0], 0.6 + wobble[1], 1.0 + 0.3 * wobble[2]))
        if floor is not None:
            render_mesh(img, floor[0] @ R.T + tvec, floor[1], floor[2], camera,
                        Light(ambient=1.0, diffuse=0.0))
        v_cam = verts_w[t] @ R.T + tvec
        render_mesh(img, v_cam, body.faces, colors, camera, light)
        for w, h, x0, y0, speed, color in occluders:
            x = (x0 + speed * t) % (cfg.width + w) - w
            cv2.rectangle(img, (int(x), int(y0)), (int(x + w), int(y0 + h)), color, -1)
        j_cam = joints_w[t] @ R.T + tvec
        uv = camera.project(v_cam)
        box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
        box = np.clip(box, 0, [cfg.width, cfg.height, cfg.width, cfg.height])
        yield img, FrameTruth(motion.poses[t], betas[t], motion.transl[t], R, tvec, j_cam,
                              camera.project(j_cam), box)


def write_clip(motion: Motion, body: BodyModel, out: Path, cfg: SceneConfig = SceneConfig(),
               progress: bool = False) -> tuple[Path, Path]:
    """Render ``motion`` to ``out`` (``.avi``, MJPG); see :func:`write_sequence`."""
    return write_sequence([(motion, cfg)], body, out, progress)


def write_sequence(shots: list[tuple[Motion, SceneConfig]], body: BodyModel, out: Path,
                   progress: bool = False) -> tuple[Path, Path]:
    """Render shots (same size and fps) one after another into ``out`` (``.avi``, MJPG) and the
    ground truth into ``out.with_suffix('.npz')``: per-frame arrays stacked over frames (pose, betas,
    transl, cam_rot, cam_t, joints3d, joints2d, box, ``shot`` index), plus fps, focal, image size and
    shot names. Written under temporary names and renamed at the end, so an interrupted run leaves
    nothing half-written. Returns both paths."""
    out = Path(out)
    first = shots[0][1]
    if any((c.width, c.height, c.fov) != (first.width, first.height, first.fov) for _, c in shots):
        raise ValueError("all shots of a sequence need the same image size and field of view")
    fps = shots[0][0].fps
    if any(m.fps != fps for m, _ in shots):
        raise ValueError("all shots of a sequence need the same frame rate")
    with clip_files(out) as (tmp_video, tmp_gt):
        _render_into(shots, body, tmp_video, tmp_gt, fps, first, out.name, progress)
    return out, out.with_suffix(".npz")


@contextlib.contextmanager
def clip_files(out: Path) -> Iterator[tuple[Path, Path]]:
    """Temporary names for a clip's video and truth beside ``out`` (unique: concurrent renders of
    the same clip cannot mix), renamed to ``out`` and ``out.with_suffix('.npz')`` when the block
    succeeds and removed when it fails."""
    tmp_video = temporary_beside(out, out.stem + ".", ".part" + out.suffix)
    tmp_gt = tmp_video.with_suffix(".npz")
    try:
        yield tmp_video, tmp_gt
    except BaseException:
        tmp_video.unlink(missing_ok=True)
        tmp_gt.unlink(missing_ok=True)
        raise
    tmp_gt.replace(out.with_suffix(".npz"))
    tmp_video.replace(out)


def _render_into(shots: list[tuple[Motion, SceneConfig]], body: BodyModel, tmp_video: Path,
                 tmp_gt: Path, fps: float, first: SceneConfig, label: str, progress: bool) -> None:
    writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                             (first.width, first.height))
    if not writer.isOpened():
        raise OSError(f"cannot write video {tmp_video}")
    truths: list[FrameTruth] = []
    shot_index: list[int] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(m.num_frames for m, _ in shots), desc=f"render {label}", unit="frame")
    try:
        for k, (motion, cfg) in enumerate(shots):
            for img, truth in render_motion(motion, body, cfg):
                writer.write(img)
                truths.append(truth)
                shot_index.append(k)
                if bar is not None:
                    bar.update()
    finally:
        writer.release()
        if bar is not None:
            bar.close()
    focal = focal_from_fov(first.fov, first.width, first.height)
    stacked = {k: np.stack([getattr(t, k) for t in truths]).astype(np.float32)
               for k in FrameTruth.__dataclass_fields__}
    np.savez_compressed(tmp_gt, **stacked, shot=np.array(shot_index), fps=np.array(fps),
                        focal=np.array(focal), image_size=np.array([first.width, first.height]),
                        names=np.array([m.name for m, _ in shots]))


# -- several people in one scene -----------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Where one person's motion happens in a shared scene: turned by ``heading`` degrees about
    the vertical (0: the clip's own direction; 90: walking along +x, the camera's right for
    ``azimuth`` 0) about its first pelvis position, which is then moved to ``(x, z)`` metres."""

    heading: float = 0.0
    x: float = 0.0
    z: float = 0.0


def place_motion(motion: Motion, placement: Placement, rest_pelvis: np.ndarray) -> Motion:
    """``motion`` turned and moved as ``placement`` says, still exact SMPL parameters: the root
    rotation is turned and ``transl`` chosen so that SMPL(pose, β, transl) is the turned, moved
    body. ``rest_pelvis (3,)``: the body's pelvis joint J₀(β) in the rest pose (SMPL rotates the
    root about it)."""
    from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    a = np.radians(placement.heading)
    Ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    pelvis = motion.transl + rest_pelvis  # (T, 3) world pelvis
    c = np.array([pelvis[0, 0], 0.0, pelvis[0, 2]])
    offset = np.array([placement.x, 0.0, placement.z])
    transl = (pelvis - c) @ Ry.T + offset - rest_pelvis
    poses = motion.poses.copy()
    root = axis_angle_to_matrix(torch.from_numpy(poses[:, 0].astype(np.float64)))
    poses[:, 0] = matrix_to_axis_angle(torch.from_numpy(Ry) @ root).numpy()
    return replace(motion, poses=poses, transl=transl)


@dataclass(frozen=True)
class PeopleTruth:
    """One frame of a scene with ``P`` people: ``people`` their :class:`FrameTruth` (in the
    order given) and ``visible (P,)`` the fraction of each one's joints inside the image and not
    hidden by anybody else (the joint's pixel shows that person's surface)."""

    people: list[FrameTruth]
    visible: np.ndarray


def render_people(motions: list[Motion], body: BodyModel, cfg: SceneConfig = SceneConfig()
                  ) -> Iterator[tuple[np.ndarray, PeopleTruth]]:
    """Yield ``(image (H, W, 3) uint8 BGR, truth)`` per frame of several people moving at once.

    The motions are already placed (:func:`place_motion`) and have the same frame count. The
    camera is fixed (``cfg.follow`` is not used): it looks at the mean pelvis of everybody over the
    clip from ``cfg``'s azimuth, elevation and distance. Each person has their own clothes; the
    bodies occlude each other (one painter's pass over all their triangles)."""
    from stmocap.models.rotations import axis_angle_to_matrix

    T = motions[0].num_frames
    if any(m.num_frames != T for m in motions):
        raise ValueError("every person's motion needs the same number of frames")
    rng = np.random.default_rng(cfg.seed)
    camera = PinholeCamera.centred(focal_from_fov(cfg.fov, cfg.width, cfg.height), cfg.width, cfg.height)
    background = _background(cfg, rng)
    colors = [_face_colors(body, rng) for _ in motions]
    posed = []
    for m in motions:
        betas = np.tile(m.betas, (T, 1))
        with torch.no_grad():
            out = body(axis_angle_to_matrix(torch.from_numpy(m.poses)).float(),
                       torch.from_numpy(betas).float(), torch.from_numpy(m.transl).float())
        posed.append((out.vertices.double().numpy(), out.joints.double().numpy(), betas))
    centre = np.mean([j[:, 0] for _, j, _ in posed], axis=(0, 1))
    target = np.array([centre[0], max(centre[1], 0.5), centre[2]])
    az, el = np.radians(cfg.azimuth), np.radians(cfg.elevation)
    direction = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    R, tvec = look_at(target + cfg.distance * direction, target)
    floor = _floor_mesh(centre) if cfg.floor else None
    faces = np.concatenate([body.faces + k * len(posed[0][0][0]) for k in range(len(motions))])
    albedo = np.concatenate(colors)
    # Label image: person k's triangles drawn in grey level 40·(k + 1), unshaded.
    labels = np.concatenate([np.full((len(body.faces), 3), 40 * (k + 1) / 255) for k in range(len(motions))])
    light_phase = rng.uniform(0, 2 * np.pi, 3)
    flat = Light(ambient=1.0, diffuse=0.0)
    for t in range(T):
        img = background.copy()
        wobble = cfg.light_jitter * np.sin(2 * np.pi * t / 90.0 + light_phase)
        light = Light(direction=(0.3 + wobble[0], 0.6 + wobble[1], 1.0 + 0.3 * wobble[2]))
        if floor is not None:
            render_mesh(img, floor[0] @ R.T + tvec, floor[1], floor[2], camera, flat)
        v_cam = np.concatenate([v[t] @ R.T + tvec for v, _, _ in posed])
        render_mesh(img, v_cam, faces, albedo, camera, light)
        label = render_mesh(np.zeros_like(img), v_cam, faces, labels, camera, flat)[..., 0]
        truths, visible = [], []
        for k, (m, (v, j, betas)) in enumerate(zip(motions, posed, strict=True)):
            j_cam = j[t] @ R.T + tvec
            uv = camera.project(v[t] @ R.T + tvec)
            box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
            box = np.clip(box, 0, [cfg.width, cfg.height, cfg.width, cfg.height])
            j2d = camera.project(j_cam)
            px = np.round(j2d).astype(int)
            inside = (px[:, 0] >= 0) & (px[:, 0] < cfg.width) & (px[:, 1] >= 0) & (px[:, 1] < cfg.height)
            own = np.zeros(len(px), bool)
            own[inside] = np.abs(label[px[inside, 1], px[inside, 0]].astype(int) - 40 * (k + 1)) <= 5
            visible.append(own.mean())
            truths.append(FrameTruth(m.poses[t], betas[t], m.transl[t], R, tvec, j_cam, j2d, box))
        yield img, PeopleTruth(truths, np.array(visible))


def write_people_clip(motions: list[Motion], body: BodyModel, out: Path, cfg: SceneConfig = SceneConfig()
                      ) -> tuple[Path, Path]:
    """Render :func:`render_people` to ``out`` (``.avi``, MJPG) and its truth to
    ``out.with_suffix('.npz')``: every :class:`FrameTruth` field stacked ``(T, P, …)``, ``visible
    (T, P)``, fps, focal, image size and the people's motion names. Written under temporary names
    and renamed at the end. Returns both paths."""
    out = Path(out)
    with clip_files(out) as (tmp_video, tmp_gt):
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"MJPG"), motions[0].fps,
                                 (cfg.width, cfg.height))
        if not writer.isOpened():
            raise OSError(f"cannot write video {tmp_video}")
        frames: list[PeopleTruth] = []
        try:
            for img, truth in render_people(motions, body, cfg):
                writer.write(img)
                frames.append(truth)
        finally:
            writer.release()
        stacked = {k: np.stack([[getattr(p, k) for p in f.people] for f in frames]).astype(np.float32)
                   for k in FrameTruth.__dataclass_fields__}
        visible = np.stack([f.visible for f in frames]).astype(np.float32)
        np.savez_compressed(tmp_gt, **stacked, visible=visible, fps=np.array(motions[0].fps),
                            focal=np.array(focal_from_fov(cfg.fov, cfg.width, cfg.height)),
                            image_size=np.array([cfg.width, cfg.height]),
                            names=np.array([m.name for m in motions]))
    return out, out.with_suffix(".npz")
