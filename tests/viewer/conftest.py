"""Fixtures of the viewer tests: a virtual X display and the sample body."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[str]:
    """A running ``Xvfb`` display (``DISPLAY`` is set while the session lasts). Skips, saying
    why, where Xvfb is not installed; ``.ci/run`` installs it, so CI runs these tests."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")
    pytest.importorskip("open3d", reason="open3d is not installed (pip install 'stmocap[viewer]')")
    from stmocap.viewer.display import VirtualDisplay

    with VirtualDisplay(1024, 768) as display:
        yield display.display


@pytest.fixture(scope="session")
def sample_body():  # type: ignore[no-untyped-def]
    """The free body with the sample pose (``stmocap.viewer.sample``)."""
    from stmocap.viewer.sample import SampleBody

    return SampleBody()
