"""Multi-person tracking: stable ids across frames, crossings and short occlusions.

Boxes are ``(N, 4)`` float ``x0, y0, x1, y1`` in pixels. Each frame a :class:`Tracker` predicts
every live track's box (constant velocity from its last observed box), assigns the frame's
detections to tracks by Hungarian assignment on a cost mixing IoU and centre distance (normalised
by the track's box size), and then ages, confirms and ends tracks:

- a track is *tentative* until it was observed on ``min_hits`` frames in a row; it gets its public
  id when it is confirmed (ids count 0, 1, 2 … and are never reused);
- a track missed on a frame keeps its id and coasts on its predicted box; after ``max_missed``
  frames in a row without an observation it ends (a short occlusion keeps the id);
- a track's box can also be observed without a detection: a per-frame model that ran on the
  track's region (``observed`` in :meth:`Tracker.update`) returns the body's box it projected, and
  :meth:`Tracker.correct` replaces a detection's box by that refined one. So between detections
  each track's region is its previous projected body box, moved by its velocity.

The functions at the top are the pure core; :class:`Tracker` only holds the state.
"""

from __future__ import annotations

__all__ = ["FrameTracks", "Track", "Tracker", "TrackerConfig", "assign", "assignment_cost", "box_area",
           "box_centres", "duplicates", "iou_matrix", "predict_box"]

from dataclasses import dataclass, field

import numpy as np
from stmocap.models.people.base import box_area, iou_matrix

from stmocap.validate import AT_LEAST_ONE, NON_NEGATIVE, Range


@dataclass(frozen=True)
class TrackerConfig:
    """How detections become tracks."""

    iou_weight: float = field(default=0.5, metadata={"check": Range(0, 1),
        "help": "weight of (1 - IoU) in the assignment cost; the rest is the centre distance"})
    max_distance: float = field(default=1.0, metadata={"check": NON_NEGATIVE,
        "help": "centre distance, in units of the track's box size, beyond which a detection "
                "cannot match a track"})
    min_iou: float = field(default=0.0, metadata={"check": Range(0, 1),
        "help": "detections overlapping a track less than this cannot match it (0: distance only)"})
    min_hits: int = field(default=2, metadata={"check": AT_LEAST_ONE,
        "help": "frames in a row a new person must be seen before it gets an id"})
    max_missed: int = field(default=15, metadata={"check": NON_NEGATIVE,
        "help": "frames in a row a person may go unseen (occlusion) and keep its id"})
    velocity_smoothing: float = field(default=0.3, metadata={"check": Range(0, 1),
        "help": "weight of the newest frame-to-frame motion in each track's velocity"})
    duplicate_iou: float = field(default=0.6, metadata={"check": Range(0, 1),
        "help": "two observed tracks overlapping more than this are one person: the one whose "
                "predicted box fits worse counts as unseen (confirmed tracks win over new ones)"})
    max_tracks: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "at most this many live tracks (0: no limit); extra detections start none"})


# -- pure core (with box_area and iou_matrix of stmocap.models.people.base) ----------------------

def box_centres(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` → ``(N, 2)``."""
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def predict_box(box: np.ndarray, velocity: np.ndarray, frames: int = 1) -> np.ndarray:
    """Constant velocity: ``box (4,)`` moved ``frames`` times by ``velocity (4,)`` (pixels/frame)."""
    return np.asarray(box, np.float64) + frames * np.asarray(velocity, np.float64)


def assignment_cost(tracks: np.ndarray, detections: np.ndarray, iou_weight: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cost ``(N, M)`` of giving detection ``m`` to (predicted) track ``n``:
    ``iou_weight · (1 − IoU) + (1 − iou_weight) · d``, with ``d`` the centre distance divided by
    the track box's size (the mean of its width and height). Returns ``(cost, iou, d)``."""
    iou = iou_matrix(tracks, detections)
    size = np.maximum((tracks[:, 2] - tracks[:, 0] + tracks[:, 3] - tracks[:, 1]) / 2, 1.0)
    d = np.linalg.norm(box_centres(tracks)[:, None] - box_centres(detections)[None], axis=-1) / size[:, None]
    return iou_weight * (1 - iou) + (1 - iou_weight) * d, iou, d


def assign(tracks: np.ndarray, detections: np.ndarray, config: TrackerConfig
           ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian assignment of ``detections (M, 4)`` to predicted ``tracks (N, 4)``.

    Pairs farther apart than ``max_distance`` or overlapping less than ``min_iou`` are not
    allowed. Returns ``(matches [(track row, detection row)], unmatched track rows, unmatched
    detection rows)``, each sorted.
    """
    from scipy.optimize import linear_sum_assignment

    n, m = len(tracks), len(detections)
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    cost, iou, d = assignment_cost(np.asarray(tracks, np.float64), np.asarray(detections, np.float64),
                                   config.iou_weight)
    allowed = (d <= config.max_distance) & (iou >= config.min_iou)
    big = 1e6
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    matches = sorted((int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c])
    used_t = {r for r, _ in matches}
    used_d = {c for _, c in matches}
    return (matches, [r for r in range(n) if r not in used_t], [c for c in range(m) if c not in used_d])


def duplicates(boxes: np.ndarray, priority: np.ndarray, threshold: float) -> list[int]:
    """Rows of ``boxes (N, 4)`` that overlap a higher-``priority`` box by IoU > ``threshold``
    (the lower-priority one of each such pair; ties: the later row)."""
    iou = iou_matrix(boxes, boxes)
    order = sorted(range(len(boxes)), key=lambda i: (-priority[i], i))
    kept: list[int] = []
    dropped: list[int] = []
    for i in order:
        (dropped if any(iou[i, k] > threshold for k in kept) else kept).append(i)
    return sorted(dropped)


# -- state -----------------------------------------------------------------------------------------

@dataclass
class Track:
    """One followed person. ``id`` is -1 while tentative; ``key`` is internal and unique."""

    key: int
    box: np.ndarray  # (4,) last observed box, pixels
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    id: int = -1
    hits: int = 1  # frames in a row observed (until confirmed), then total observed frames
    age: int = 1  # frames since birth
    missed: int = 0  # frames in a row without an observation
    seen: bool = True  # observed on the current frame
    source: int = -1  # this frame's detection row (-1: observed without one, or not seen)
    before: tuple[np.ndarray, np.ndarray, int] | None = None  # box, velocity, gap before this frame

    @property
    def confirmed(self) -> bool:
        return self.id >= 0

    def predicted(self) -> np.ndarray:
        """The box expected on the next frame (constant velocity from the last observation)."""
        return predict_box(self.box, self.velocity, self.missed + 1)


@dataclass(frozen=True)
class FrameTracks:
    """The tracks after one :meth:`Tracker.update`.

    ``ids (K,)`` of the confirmed tracks observed on this frame, ``boxes (K, 4)`` their boxes and
    ``sources (K,)``: the detection row each came from (-1: observed without a detection).
    ``coasting``: ids of confirmed tracks not seen on this frame but still alive.
    """

    ids: np.ndarray
    boxes: np.ndarray
    sources: np.ndarray
    coasting: tuple[int, ...] = ()


class Tracker:
    """Stable person ids from per-frame boxes (see the module docstring)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 0
        self._next_key = 0

    def reset(self) -> None:
        """Forget every track (ids keep counting: an id is never reused)."""
        self.tracks = []

    def predict(self) -> dict[int, np.ndarray]:
        """Each live track's expected box on the coming frame, by internal ``key``."""
        return {t.key: t.predicted() for t in self.tracks}

    def track(self, key: int) -> Track:
        return next(t for t in self.tracks if t.key == key)

    def _observe(self, t: Track, box: np.ndarray) -> None:
        t.before = (t.box, t.velocity, t.missed + 1)
        self._move(t, box)
        t.hits += 1
        t.missed = 0
        t.seen = True

    def _move(self, t: Track, box: np.ndarray) -> None:
        assert t.before is not None
        last, velocity, gap = t.before
        box = np.asarray(box, np.float64)
        step = (box - last) / gap
        a = self.config.velocity_smoothing
        t.velocity = step if t.hits <= 1 and not t.confirmed else a * step + (1 - a) * velocity
        t.box = box

    def update(self, boxes: np.ndarray, scores: np.ndarray | None = None,
               observed: dict[int, np.ndarray] | None = None) -> FrameTracks:
        """Advance one frame.

        Args:
            boxes: ``(N, 4)`` this frame's detections (may be empty: a frame the detector skipped).
            scores: ``(N,)``; higher-scoring detections start tracks first when ``max_tracks``
                limits them (default: all equal).
            observed: boxes already tied to a live track by its internal key (the body box a
                per-frame model found in the track's region). They win over detections; a
                detection matching an observed track is used up by it.
        """
        cfg = self.config
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, np.float64)
        observed = {k: np.asarray(v, np.float64) for k, v in (observed or {}).items()}
        for t in self.tracks:
            t.seen = False
            t.source = -1
            t.age += 1
        # Two tracks that landed on the same person (one region drifted onto someone else, as
        # when people cross): the one whose motion predicted the box better keeps it.
        keys = [k for k in observed if any(t.key == k for t in self.tracks)]
        if len(keys) > 1:
            tr = [self.track(k) for k in keys]
            fit = [assignment_cost(t.predicted()[None], observed[k][None], cfg.iou_weight)[0][0, 0]
                   for t, k in zip(tr, keys, strict=True)]
            priority = np.array([1e3 * t.confirmed - f for t, f in zip(tr, fit, strict=True)])
            for i in duplicates(np.stack([observed[k] for k in keys]), priority, cfg.duplicate_iou):
                del observed[keys[i]]
        for k, box in observed.items():
            if any(t.key == k for t in self.tracks):
                self._observe(self.track(k), box)
        free = list(range(len(boxes)))
        # Detections of an observed track are used up by it.
        seen = [t for t in self.tracks if t.seen]
        if seen and free:
            free = assign(np.stack([t.box for t in seen]), boxes, cfg)[2]
        # The remaining detections re-find unseen tracks (crossings, occlusions) by their prediction.
        unseen = [t for t in self.tracks if not t.seen]
        if unseen and free:
            matches, _, rest = assign(np.stack([t.predicted() for t in unseen]), boxes[free], cfg)
            for r, c in matches:
                self._observe(unseen[r], boxes[free[c]])
                unseen[r].source = free[c]
            free = [free[c] for c in rest]
        for t in self.tracks:
            if not t.seen:
                t.missed += 1
                if not t.confirmed:
                    t.hits = 0
        self.tracks = [t for t in self.tracks
                       if t.missed <= (cfg.max_missed if t.confirmed else 0)]
        for c in sorted(free, key=lambda c: -scores[c]):
            if cfg.max_tracks and len(self.tracks) >= cfg.max_tracks:
                break
            self.tracks.append(Track(self._next_key, boxes[c].copy(), source=c))
            self._next_key += 1
        for t in self.tracks:
            if not t.confirmed and t.hits >= cfg.min_hits:
                t.id = self._next_id
                self._next_id += 1
        return self.frame()

    def correct(self, key: int, box: np.ndarray) -> None:
        """Replace track ``key``'s box on this frame by a refined one (a per-frame model's body
        box in the region its detection gave); it was already counted as observed."""
        t = self.track(key)
        if t.before is None:  # born on this frame: no motion yet
            t.box = np.asarray(box, np.float64)
        else:
            self._move(t, box)

    def drop(self, key: int) -> None:
        """Track ``key`` was not really seen on this frame (its per-frame model found nobody in
        the region its detection gave): undo the observation, as if no detection had come."""
        t = self.track(key)
        if not t.seen:
            return
        if not t.confirmed or t.before is None:
            self.tracks.remove(t)
            return
        t.box, t.velocity, t.missed = t.before
        t.hits -= 1
        t.seen = False
        t.source = -1
        if t.missed > self.config.max_missed:
            self.tracks.remove(t)

    def frame(self) -> FrameTracks:
        """The current frame's confirmed, observed tracks (sorted by id)."""
        shown = sorted((t for t in self.tracks if t.confirmed and t.seen), key=lambda t: t.id)
        return FrameTracks(
            ids=np.array([t.id for t in shown], np.int64),
            boxes=np.array([t.box for t in shown], np.float32).reshape(-1, 4),
            sources=np.array([t.source for t in shown], np.int64),
            coasting=tuple(sorted(t.id for t in self.tracks if t.confirmed and not t.seen)))
