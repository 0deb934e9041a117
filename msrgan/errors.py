"""Expected problems (bad input, bad params) and how a stage reports them: one line, non-zero exit."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


class UserError(Exception):
    """A problem the user can fix: the message names the file or the params key and what is wrong."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def exit_on_user_error(main: Callable[[], object]) -> None:
    """Run `main`; turn a UserError into `error: <message>` on stderr and exit status 2, without a traceback."""
    try:
        main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
