// Live skeletons from `stmocap bridge ws` (JSON over /ws; see stmocap/bridges/ws.py).
// World frame: y up, floor y = 0, metres; the same viewpoint as the Open3D viewer.
import {
  BufferAttribute, BufferGeometry, Color, GridHelper, LineBasicMaterial, LineSegments,
  PerspectiveCamera, Points, PointsMaterial, Scene, WebGLRenderer,
} from "./vendor/three.subset.min.js";

const COLOURS = [0xe69f00, 0x56b4e9, 0x009e73, 0xf0e442, 0x0072b2, 0xd55e00, 0xcc79a7];
const EYE_OFFSET = [2.2, 1.2, -3.9]; // eye minus look-at point
const REFRAME_M = 3.0;

const status = document.getElementById("status");
const renderer = new WebGLRenderer({ antialias: false, preserveDrawingBuffer: true });
renderer.setSize(window.innerWidth, window.innerHeight);
document.body.appendChild(renderer.domElement);
const scene = new Scene();
scene.background = new Color(0x1f1f24);
const camera = new PerspectiveCamera(50, window.innerWidth / window.innerHeight, 0.05, 1000);
const grid = new GridHelper(6, 12, 0x73737f, 0x73737f);
scene.add(grid);
let target = [0, 0.8, 3.0];
lookAt(target);

let parents = null;
const people = new Map(); // track -> {lines, points}
let frames = 0;

function lookAt(t) {
  target = t;
  camera.position.set(t[0] + EYE_OFFSET[0], t[1] + EYE_OFFSET[1], t[2] + EYE_OFFSET[2]);
  camera.lookAt(t[0], t[1], t[2]);
  grid.position.set(Math.round(t[0] * 2) / 2, 0, Math.round(t[2] * 2) / 2);
}

function person(track) {
  let p = people.get(track);
  if (p) return p;
  const colour = COLOURS[track % COLOURS.length];
  const segs = new BufferGeometry();
  segs.setAttribute("position", new BufferAttribute(new Float32Array(2 * 3 * parents.length), 3));
  const pts = new BufferGeometry();
  pts.setAttribute("position", new BufferAttribute(new Float32Array(3 * parents.length), 3));
  p = {
    lines: new LineSegments(segs, new LineBasicMaterial({ color: colour })),
    points: new Points(pts, new PointsMaterial({ color: colour, size: 9, sizeAttenuation: false })),
    seen: 0,
  };
  scene.add(p.lines, p.points);
  people.set(track, p);
  return p;
}

function draw(msg) {
  const joints = msg.joints_world;
  if (!parents || !joints) return;
  const p = person(msg.track);
  const seg = p.lines.geometry.attributes.position;
  const pts = p.points.geometry.attributes.position;
  let k = 0;
  joints.forEach((j, i) => {
    pts.setXYZ(i, j[0], j[1], j[2]);
    const par = parents[i];
    if (par >= 0) {
      const q = joints[par];
      seg.setXYZ(k++, j[0], j[1], j[2]);
      seg.setXYZ(k++, q[0], q[1], q[2]);
    }
  });
  seg.needsUpdate = true;
  pts.needsUpdate = true;
  p.lines.geometry.computeBoundingSphere();
  p.points.geometry.computeBoundingSphere();
  p.seen = performance.now();
  const pelvis = joints[0];
  const d = Math.hypot(pelvis[0] - target[0], pelvis[1] - target[1], pelvis[2] - target[2]);
  if (d > REFRAME_M) lookAt(pelvis);
}

function render() {
  const now = performance.now();
  for (const [track, p] of people) {
    if (now - p.seen > 1000) { scene.remove(p.lines, p.points); people.delete(track); }
  }
  renderer.render(scene, camera);
}

const ws = new WebSocket(`ws://${window.location.host}/ws`);
ws.onopen = () => { status.textContent = "connected, waiting for poses"; };
ws.onclose = () => { status.textContent += " | disconnected"; };
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.type === "hello") {
    parents = msg.parents;
  } else if (msg.type === "pose") {
    draw(msg);
    frames += 1;
    status.textContent = `frames ${frames} | people ${people.size} | frame ${msg.frame_index}`;
    document.title = `stmocap ${frames}`;
  } else if (msg.type === "eos") {
    status.textContent += " | stream ended";
  }
  render();
};
render();
