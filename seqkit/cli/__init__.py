"""The ``seqkit`` command line: one verb per job. The verbs below are the command line's own (``add_verbs``);
plugins add theirs through the ``seqkit_register_commands`` hook. ``main`` creates the one plugin manager of
the process and hands it to the verb (``args.plugin_manager``).

Bad input prints one line and exits with 2; any other failure prints one line and exits with 1; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
import warnings
from typing import Protocol

from seqkit import distributed
from seqkit._version import __version__
from seqkit.backend import keep_freed_host_memory
from seqkit.config import config, using_config
from seqkit.errors import UserError
from seqkit.plugins import PluginError, get_plugin_manager
from seqkit.plugins.manager import BUILTIN, PluginConflict


class Command(Protocol):
    """What a verb runs: ``p.set_defaults(run=function)`` in ``seqkit_register_commands``. It gets the parsed
    arguments, with ``args.plugin_manager``, and returns the exit status (None is 0); bad input raises
    ``seqkit.errors.UserError`` (one line, exit 2)."""

    def __call__(self, args: argparse.Namespace) -> int | None: ...


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and check every op for NaN/inf")
    parser.add_argument("--plugins-dir", metavar="DIR", help="also load every *.py file in DIR as a plugin")
    parser.add_argument("--strict-plugins", action="store_true", help="fail when a plugin cannot be loaded")


def add_verbs(subparsers: argparse._SubParsersAction) -> list[str]:
    """Add the command line's own verbs, in the order ``seqkit --help`` lists them (each module of
    ``seqkit.cli`` has ``add_parser(subparsers)``); returns their names."""
    from seqkit.cli import bleu, corpus, demo, plugins, report, serve, tokenizer, train, translate

    before = set(subparsers.choices)
    for module in (demo, plugins, bleu, corpus, tokenizer, train, translate, serve, report):
        module.add_parser(subparsers)
    return sorted(set(subparsers.choices) - before)


def build_parser(pm) -> argparse.ArgumentParser:
    """The full parser: global options, the command line's own verbs, then every plugin's (which ``seqkit
    plugins`` lists under the plugin that added them; the own ones under the built-in plugin, ``seqkit``)."""
    parser = _Parser(prog="seqkit", description="A define-by-run toolkit for sequence models.")
    parser.add_argument("--version", action="version", version=f"seqkit {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    pm.commands[BUILTIN] = add_verbs(sub)
    pm.add_commands(sub)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse's parser (its verbs' too), with a bad command line as one line: ``seqkit VERB: error: ...``,
    pointing at ``--help`` for the usage, rather than the usage and then the error."""

    def error(self, message: str):
        raise _CommandLineError(f"{self.prog}: error: {message} (see {self.prog} --help)")


class _CommandLineError(Exception):
    pass


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line; a plugin conflict is an error (its name is refused) although the command goes on."""
    level = "error" if issubclass(category, PluginConflict) else "warning"
    print(f"seqkit: {level}: {message}", file=sys.stderr if file is None else file)


def _utf8_streams() -> None:
    """Standard output and error in UTF-8 whatever the locale (``PYTHONIOENCODING`` or ``LANG=C`` included), as
    every file seqkit writes is; errors shows an unencodable character as an escape rather than failing."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a real text stream; tests may swap in a StringIO
            stream.reconfigure(encoding="utf-8", errors="backslashreplace" if stream is sys.stderr else "strict")


def main(argv: list[str] | None = None) -> int:
    if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:  # as ``seqkit.__main__`` left it: Ctrl-C is ours now
        signal.signal(signal.SIGINT, signal.default_int_handler)
    keep_freed_host_memory()  # a verb may train or translate for hours; SEQKIT_MALLOC=system opts out
    _utf8_streams()
    pre = argparse.ArgumentParser(add_help=False)
    _global_options(pre)
    early, _ = pre.parse_known_args(argv)
    with warnings.catch_warnings():
        if not early.debug:
            warnings.showwarning = _one_line_warning
        return _main(argv, early)


def _main(argv: list[str] | None, early: argparse.Namespace) -> int:
    try:
        pm = get_plugin_manager(plugins_dir=early.plugins_dir, strict=early.strict_plugins)
        args = build_parser(pm).parse_args(argv)
    except PluginError as e:
        if early.debug:
            raise
        print(f"seqkit: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seqkit: interrupted", file=sys.stderr)
        return 130
    except _CommandLineError as e:
        print(e, file=sys.stderr)
        return 2
    args.plugin_manager = pm
    try:
        with using_config("debug", args.debug or config.debug):
            return args.run(args) or 0
    except (UserError, PluginError) as e:  # bad input: 2; a broken plugin: 1
        _traceback_if_debug(args)
        return distributed.current().fail(f"seqkit {args.command}: error: {e}", 2 if isinstance(e, UserError) else 1)
    except KeyboardInterrupt:
        return distributed.current().fail(f"seqkit {args.command}: interrupted", 130)
    except BrokenPipeError:  # the reader went away (``seqkit ... | head``): stop quietly, as ``cat`` does
        _silence_stdout()
        return 141  # 128 + SIGPIPE, the status of a program the signal ended
    except Exception as e:
        _traceback_if_debug(args)
        message = f"seqkit {args.command}: {type(e).__name__}: {e} (rerun with --debug for the traceback)"
        return distributed.current().fail(message, 1)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of what is left in its buffer does not
    fail a second time on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's StringIO): nothing to flush
        pass


def _traceback_if_debug(args: argparse.Namespace) -> None:
    """With ``--debug``: re-raise in one process; with several, print the traceback and let ``fail`` end them all
    (a process that died alone would leave the others waiting)."""
    if not args.debug:
        return
    if distributed.current().size == 1:
        raise  # called from an except block: re-raises the exception being handled
    traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
