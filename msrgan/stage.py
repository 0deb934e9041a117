"""What every stage script does: read its typed params section, run, report expected problems in one line."""
from __future__ import annotations

from collections.abc import Callable

from msrgan.errors import exit_on_user_error
from msrgan.params import section


def run_stage(name: str, body: Callable[[int, object], object], params_path: str = "params.yaml") -> None:
    """Call `body(seed, params_section)`; a UserError exits 2 with a one-line message and no traceback."""
    exit_on_user_error(lambda: body(*section(name, params_path)))
