"""Open3D drawing of the viewer's state: one mesh (or skeleton) per track, floor grid, camera
frustum, updated in place every frame (legacy ``Visualizer`` + ``update_geometry``).

Everything is drawn in the world frame of :mod:`stmocap.viewer.geometry` (y up, floor y = 0).
Open3D is imported lazily (``pip install 'stmocap[viewer]'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stmocap.viewer import geometry as geo
from stmocap.viewer.stream import StreamState

from stmocap.optional import require


def open3d() -> Any:
    return require("open3d", "viewer", "and the system library libusb-1.0-0 on Debian/Ubuntu")


# Open3D's legacy lights add up to more than 1: a darker albedo keeps lit meshes from clipping to
# white or yellow, so each track keeps its hue on screen.
MESH_ALBEDO = 0.5
# Without a published world frame, the view moves to the people when they are this far (m) from
# the point it looks at.
REFRAME_M = 3.0


@dataclass(frozen=True)
class ViewPose:
    """A fixed viewpoint in the world frame: the eye, the point it looks at, the up direction and
    the vertical field of view (degrees). The default looks at a person 3 m in front of the
    recording camera from 2.4 m beside and above it."""

    eye: tuple[float, float, float] = (2.2, 2.0, -0.9)
    lookat: tuple[float, float, float] = (0.0, 0.8, 3.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_deg: float = 50.0

    def extrinsic(self) -> np.ndarray:
        """``(4, 4)`` world → view camera (x right, y down, z forward, Open3D's convention)."""
        eye, target, up = (np.asarray(v, np.float64) for v in (self.eye, self.lookat, self.up))
        z = target - eye
        z /= np.linalg.norm(z)
        x = np.cross(z, up)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        E = np.eye(4)
        E[:3, :3] = np.stack([x, y, z])
        E[:3, 3] = -E[:3, :3] @ eye
        return E


class Window:
    """An Open3D legacy window (``vis``): open it, process events and draw, capture, close.
    Shared by the 3D view (:class:`Scene`) and the overlay (``viewer.overlay_window``)."""

    vis: Any

    def _open(self, vis: Any, title: str, width: int, height: int, visible: bool) -> None:
        self.vis = vis
        if not vis.create_window(window_name=title, width=width, height=height, visible=visible):
            raise RuntimeError(f"Open3D could not open the window '{title}' (no display? run under "
                               "Xvfb or use `stmocap view --record out.mp4`, which starts one)")

    def render(self) -> bool:
        """Process window events and draw; False once the window was closed."""
        alive = bool(self.vis.poll_events())
        self.vis.update_renderer()
        return alive

    def capture(self) -> np.ndarray:
        """What the window shows, ``(H, W, 3)`` uint8 RGB."""
        buf = np.asarray(self.vis.capture_screen_float_buffer(do_render=True))
        return (np.clip(buf, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def close(self) -> None:
        self.vis.destroy_window()


class Scene(Window):
    """An Open3D window (visible, or hidden under Xvfb for recording) showing a :class:`StreamState`.

    ``show_mesh``: meshes (True) or skeletons (False). Key callbacks (``register_key``) work in a
    visible window.
    """

    def __init__(self, width: int = 960, height: int = 720, visible: bool = True,
                 view: ViewPose | None = None, title: str = "stmocap") -> None:
        o3d = open3d()
        self.o3d = o3d
        self.width, self.height = width, height
        self.view = view or ViewPose()
        self._open(o3d.visualization.VisualizerWithKeyCallback(), title, width, height, visible)
        opt = self.vis.get_render_option()
        opt.background_color = np.array([0.12, 0.12, 0.14])
        opt.mesh_show_back_face = True
        opt.line_width = 1.0
        self.show_mesh = True
        self.world = geo.WorldFrame()
        self.follow: int | None = None
        self._meshes: dict[int, Any] = {}
        self._skeletons: dict[int, Any] = {}
        self._faces: np.ndarray | None = None  # the triangle list the meshes were built with
        self.grid = self._lines(*geo.grid_lines(), colour=(0.45, 0.45, 0.5))
        self.vis.add_geometry(self.grid)
        self.frustum = self._lines(*geo.frustum_lines(500.0, 500.0, 319.5, 239.5, 640, 480),
                                   colour=(0.9, 0.9, 0.9))
        self.vis.add_geometry(self.frustum)
        self.vis.get_view_control().set_constant_z_near(0.05)
        self.vis.get_view_control().set_constant_z_far(1000.0)
        self._lookat = np.asarray(self.view.lookat, np.float64)
        self.reset_view()

    # --- geometry helpers ---------------------------------------------------------------------

    def _lines(self, points: np.ndarray, lines: np.ndarray, colour: tuple[float, float, float]) -> Any:
        o3d = self.o3d
        ls = o3d.geometry.LineSet(o3d.utility.Vector3dVector(points.astype(np.float64)),
                                  o3d.utility.Vector2iVector(lines.astype(np.int32)))
        ls.paint_uniform_color(colour)
        return ls

    def reset_view(self, lookat: np.ndarray | None = None) -> None:
        """Back to the fixed viewpoint :attr:`view` (moved so that it looks at ``lookat``, keeping
        the eye's offset, when given: following a person)."""
        view = self.view
        if lookat is not None:
            shift = np.asarray(lookat, np.float64) - np.asarray(view.lookat)
            view = ViewPose(tuple(np.asarray(view.eye) + shift), tuple(lookat), view.up, view.fov_deg)
        ctl = self.vis.get_view_control()
        params = ctl.convert_to_pinhole_camera_parameters()
        w, h = params.intrinsic.width, params.intrinsic.height
        f = 0.5 * h / np.tan(np.radians(view.fov_deg) / 2)
        params.intrinsic.set_intrinsics(w, h, f, f, (w - 1) / 2, (h - 1) / 2)
        params.extrinsic = view.extrinsic()
        ctl.convert_from_pinhole_camera_parameters(params, allow_arbitrary=True)

    def home(self) -> None:
        """The R key: stop following, back to the fixed viewpoint (it re-frames the people when
        they are out of view)."""
        self.follow = None
        self._lookat = np.asarray(self.view.lookat, np.float64)
        self.reset_view()
        self.grid.points = self.o3d.utility.Vector3dVector(geo.grid_lines()[0])
        self.vis.update_geometry(self.grid)

    def register_key(self, key: str, action: Callable[[], None]) -> None:
        """Call ``action`` when ``key`` (one character) is pressed in the window."""
        self.vis.register_key_callback(ord(key.upper()), lambda _vis: (action(), False)[1])

    # --- per frame ----------------------------------------------------------------------------

    def update(self, state: StreamState) -> None:
        """Bring the drawn geometry to ``state`` (adds, updates in place and removes per track)."""
        o3d = self.o3d
        for person in state.persons.values():
            self.world.update(person.pose, person.vertices)
        T = self.world.camera_to_world
        self._update_frustum(state, T)
        if state.faces is not None and state.faces is not self._faces:
            self._faces = state.faces
            for track in list(self._meshes):  # a new triangle list: rebuild the meshes
                self.vis.remove_geometry(self._meshes.pop(track), reset_bounding_box=False)
        seen = set()
        for track, person in state.persons.items():
            seen.add(track)
            if self.show_mesh and person.vertices is not None and state.faces is not None \
                    and int(state.faces.max(initial=-1)) < len(person.vertices):
                self._drop(self._skeletons, track)
                verts = geo.apply(T, person.vertices.astype(np.float64))
                mesh = self._meshes.get(track)
                if mesh is None or len(mesh.vertices) != len(verts):
                    self._drop(self._meshes, track)
                    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts),
                                                     o3d.utility.Vector3iVector(state.faces))
                    mesh.compute_vertex_normals()
                    mesh.paint_uniform_color(geo.track_colour(track) * MESH_ALBEDO)
                    self._meshes[track] = mesh
                    self.vis.add_geometry(mesh, reset_bounding_box=False)
                else:
                    mesh.vertices = o3d.utility.Vector3dVector(verts)
                    mesh.compute_vertex_normals()
                    self.vis.update_geometry(mesh)
            elif "joints3d" in person.pose:
                self._drop(self._meshes, track)
                joints = geo.apply(T, person.pose["joints3d"].astype(np.float64))
                skel = self._skeletons.get(track)
                if skel is None:
                    skel = self._lines(joints, geo.skeleton_lines(), tuple(geo.track_colour(track)))
                    self._skeletons[track] = skel
                    self.vis.add_geometry(skel, reset_bounding_box=False)
                else:
                    skel.points = o3d.utility.Vector3dVector(joints)
                    self.vis.update_geometry(skel)
        for store in (self._meshes, self._skeletons):
            for track in [t for t in store if t not in seen]:
                self._drop(store, track)
        pelvis = {t: geo.apply(T, p.pose["joints3d"][:1].astype(np.float64))[0]
                  for t, p in state.persons.items() if "joints3d" in p.pose}
        if self.follow is not None and self.follow in pelvis:
            self._look_at(pelvis[self.follow], 0.0)
        elif pelvis and self.world.published is None:
            # No metric placement (depth from a crop camera can be tens of metres off): keep the
            # people in view, moving the viewpoint and the grid only when they leave it.
            self._look_at(np.mean(list(pelvis.values()), axis=0), REFRAME_M)

    def _look_at(self, target: np.ndarray, slack: float) -> None:
        """Look at ``target`` (world) if it is more than ``slack`` metres from the current look-at
        point; the floor grid moves under it (in whole grid steps)."""
        if np.linalg.norm(target - self._lookat) <= slack:
            return
        self._lookat = np.asarray(target, np.float64)
        self.reset_view(self._lookat)
        step = 0.5
        shift = np.round((self._lookat - np.asarray(self.view.lookat)) / step) * step
        shift[1] = 0.0
        points, _ = geo.grid_lines()
        self.grid.points = self.o3d.utility.Vector3dVector(points + shift)
        self.vis.update_geometry(self.grid)

    def _update_frustum(self, state: StreamState, T: np.ndarray) -> None:
        meta = next((p.meta for p in state.persons.values() if p.meta), None)
        if meta is None:
            return
        points, _ = geo.frustum_lines(*geo.intrinsics_of(meta))
        self.frustum.points = self.o3d.utility.Vector3dVector(geo.apply(T, points))
        self.vis.update_geometry(self.frustum)

    def _drop(self, store: dict[int, Any], track: int) -> None:
        g = store.pop(track, None)
        if g is not None:
            self.vis.remove_geometry(g, reset_bounding_box=False)

