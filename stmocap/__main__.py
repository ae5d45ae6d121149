"""``python -m stmocap`` is the same as the ``stmocap`` console command."""

from stmocap.cli import main

raise SystemExit(main())
