"""stmocap: real-time 3D human motion capture from a webcam.

The layers live in sibling folders of the repository and are imported as
``stmocap.models``, ``stmocap.realtime``, ``stmocap.evaluation`` … Importing this package does no
work beyond reading the version string.
"""

from stmocap._version import __version__

__all__ = ["__version__"]
