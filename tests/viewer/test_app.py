"""``stmocap view --record``: the real command, headless, against the real publisher, writes an
H.264 MP4 that shows the mesh and the HUD, and ends with the stream."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zmq
from stmocap.realtime.messages import Message
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.sample import body_message

from .test_stream import _free_endpoint


def test_view_record_writes_h264_of_the_stream(xdisplay: str, sample_body, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import av

    endpoint = _free_endpoint()
    out = tmp_path / "view.mp4"
    pub = Publisher(endpoint, zmq.Context.instance(), queue_size=100, stats_period=0.2)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # it starts its own Xvfb
    proc = subprocess.Popen([sys.executable, "-m", "stmocap", "view", endpoint, "--record", str(out),
                             "--size", "320x240", "--fps", "10"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        pub.put(Message(kind="faces", stream="main", arrays={"faces": sample_body.faces}))
        pub.wait_for_clients(1, 60.0)
        for i in range(8):
            pub.put(body_message(sample_body.frame(phase=0.3 * i), frame_index=i, track=0))
            time.sleep(0.4)  # slower than the viewer usually draws: (nearly) every frame is drawn
        pub.end()
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close()
    assert proc.returncode == 0, err
    assert "viewer:" in err and "lost here 0" in err
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert 2 <= len(frames) <= 9, (len(frames), err)  # one per new frame; merged when drawing lags
    last = frames[-1].astype(np.int16)
    assert last.shape == (240, 320, 3)
    hud = last[2:20, 4:120]
    assert (hud > 200).any()  # white HUD text on black
    body = last[30:]
    orange = (body[..., 0] > body[..., 2] + 60) & (body[..., 0] > 90)
    assert orange.sum() > 300  # track 0's mesh is drawn
