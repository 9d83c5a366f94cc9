"""What the project's command lines share: one-line argument errors, and errors that carry their fix shown
without a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pipeline import storage
from pipeline.settings import Settings, SettingsError

USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse, with a wrong argument reported on one line that points at --help (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


def fail(message: str) -> int:
    """A wrong argument found after parsing: said on one line, before anything starts."""
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR


def run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; a wrong setting exits 2, and our own errors and explained storage failures exit 1."""
    try:
        return handler(args)
    except SettingsError as error:
        return fail(str(error))
    except Exception as error:
        # Our own errors carry the fix in their message, and so does a storage failure once explained:
        # show it without a traceback.
        if isinstance(error, RuntimeError) and type(error).__module__.startswith(("pipeline", "simulator", "harness")):
            message = str(error)
        elif (explained := storage.explain(error, "the lakehouse", Settings.from_env().lakehouse_uri)) is not None:
            message = str(explained)
        else:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
