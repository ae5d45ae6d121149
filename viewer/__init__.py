"""Live viewer of a published stmocap stream: ZeroMQ state (``stream``), world geometry
(``geometry``), Open3D drawing (``scene``) and the window / headless loop (``app``)."""
