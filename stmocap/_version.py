"""Single source of the package version (read by setuptools and `stmocap version`)."""

__version__ = "0.1.0"
