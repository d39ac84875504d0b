"""`python -m asl_edge` is the `asl-edge` command."""

from asl_edge.apps.cli import main

raise SystemExit(main())
