"""What every stage script does: read its typed params section(s), run, report expected problems in one line."""
from __future__ import annotations

from collections.abc import Callable

from msrgan.errors import exit_on_user_error
from msrgan.params import section


def run_stage(name: str | tuple[str, ...], body: Callable[..., object], params_path: str = "params.yaml") -> None:
    """Call `body(seed, params_section)`, or `body(seed, *sections)` when `name` is a tuple of section names (a
    stage that reads several, such as report); a UserError exits 2 with a one-line message and no traceback."""
    def call():
        loaded = [section(n, params_path) for n in ((name,) if isinstance(name, str) else name)]
        return body(loaded[0][0], *(params for _, params in loaded))
    exit_on_user_error(call)
