"""``stmocap bridge ws``: the real command between the real publisher and (1) a websockets client
that checks the JSON against the source pose, (2) headless Chromium loading the served page,
which connects, receives and draws the skeleton with the vendored three.js (screenshot checked)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest
import zmq
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.geometry import UPRIGHT
from stmocap.viewer.sample import SampleBody, body_message

from .chromium import Browser
from .test_vmc import _free_port

pytest.importorskip("websockets", reason="websockets is not installed (stmocap[bridge])")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class LiveStream:
    """The real publisher sending the sample pose (track 0) every 0.1 s until stopped."""

    def __init__(self) -> None:
        body = SampleBody()
        self.frames = [body.frame(phase=0.4 * i) for i in range(4)]
        self.endpoint = f"tcp://127.0.0.1:{_free_port()}"
        self.pub = Publisher(self.endpoint, zmq.Context.instance(), queue_size=100, stats_period=0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.pub.wait_for_clients(1, 60.0)
        i = 0
        while not self.stop.is_set():
            self.pub.put(body_message(self.frames[i % 4], frame_index=i, track=0))
            i += 1
            time.sleep(0.1)
        self.pub.end()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        self.pub.close()


@pytest.fixture()
def bridge():  # type: ignore[no-untyped-def]
    stream = LiveStream()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stmocap", "bridge", "ws", stream.endpoint,
                             "--port", str(port)], stderr=subprocess.PIPE, text=True)
    stream.thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                stream.close()
                raise AssertionError(f"the bridge did not serve {url}: {proc.stderr.read()}") from None
            time.sleep(0.2)
    yield url, port, stream
    stream.close()
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err


def test_serves_the_page_and_json_of_the_pose_topic(bridge) -> None:  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    url, port, stream = bridge
    with urllib.request.urlopen(url + "/vendor/three.subset.min.js") as r:
        assert r.headers["Content-Type"] == "text/javascript" and len(r.read()) > 100_000
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url + "/nothing")

    async def read() -> list[dict]:
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            return [json.loads(await asyncio.wait_for(ws.recv(), 30)) for _ in range(4)]

    hello, *poses = asyncio.run(read())
    assert hello["type"] == "hello" and len(hello["parents"]) == 24 and hello["joint_names"][0] == "pelvis"
    frames = [p["frame_index"] for p in poses]
    assert frames == sorted(frames) and all(p["type"] == "pose" and p["track"] == 0 for p in poses)
    for p in poses:
        src = stream.frames[p["frame_index"] % 4]
        np.testing.assert_allclose(p["arrays"]["rotmats"], src["rotmats"], atol=1e-6)
        np.testing.assert_allclose(p["arrays"]["joints3d"], src["joints3d"], atol=1e-6)
        world = np.array(p["joints_world"])
        # Upright camera, lifted to the floor: the same offsets as the camera-frame joints.
        np.testing.assert_allclose(world - world[0], (src["joints3d"] - src["joints3d"][0]) @ UPRIGHT.T,
                                   atol=1e-4)
        assert p["meta"]["image_size"] == [640, 480]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                    ".ci/run installs it)")
def test_page_in_headless_chromium_connects_receives_and_draws(bridge, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = bridge
    with Browser(CHROMIUM) as browser:  # type: ignore[arg-type]
        browser.open(url + "/")
        # The page's own count of poses drawn (its title), then what is on screen.
        browser.wait_for("document.title.startsWith('stmocap ') && +document.title.slice(8) >= 5")
        dom = browser.dom()
        assert "frames " in dom and "people 1" in dom, dom[-2000:]
        shot = browser.screenshot(tmp_path / "page.png")
    img = cv2.imread(str(shot))[..., ::-1].astype(np.int16)
    # Background #1f1f24; track 0's skeleton #e69f00 (orange) joints and bones.
    orange = (np.abs(img - np.array([0xE6, 0x9F, 0x00])).max(axis=-1) < 40)
    ys, xs = np.nonzero(orange)
    assert len(ys) > 150, f"{len(ys)} skeleton pixels (screenshot {shot})"
    assert ys.max() - ys.min() > 60 and xs.max() - xs.min() > 20  # a whole body, not a dot
    grid = (np.abs(img - 0x73).max(axis=-1) < 25).sum()
    assert grid > 500  # the floor grid
