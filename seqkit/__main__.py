"""``python -m seqkit`` and the ``seqkit`` command."""

import signal
import sys


def main() -> int:
    """The command line, with Ctrl-C ending the program at once and quietly until ``seqkit.cli.main`` takes
    charge of it: loading NumPy and the plugins takes a moment, and a traceback from the middle of an import
    would tell the user nothing. (A Ctrl-C the caller ignores, as a shell does for a background job, stays
    ignored.)"""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from seqkit.cli import main as command_line

    return command_line()


if __name__ == "__main__":
    sys.exit(main())
