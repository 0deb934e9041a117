"""`python -m msrgan COMMAND ...` (see msrgan.cli)."""
from msrgan.cli import main

raise SystemExit(main())
