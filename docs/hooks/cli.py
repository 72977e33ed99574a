"""The command line's page (``reference/cli.md`` in the nav), written from its argparse parser.

Each command's section is its description and exactly what ``r1v4 <command> --help`` prints,
so the page cannot disagree with the command.
"""

from __future__ import annotations

import argparse
import inspect

from _pages import add, unwritten
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files

PAGE = "reference/cli.md"
WIDTH = 100  # the help as a terminal this wide shows it, whatever the build's terminal is


def _help(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=WIDTH)
    return parser.format_help().rstrip()


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse lists its sub-commands only on the parser's actions (no public accessor).
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def page(title: str) -> str:
    from r1v4 import cli

    parser = cli._parser()
    lines = [f"# {title}", "", inspect.cleandoc(cli.__doc__ or ""), ""]
    lines += ["```text", f"$ {parser.prog} --help", _help(parser), "```", ""]
    for name, command in _commands(parser).items():
        lines += [f"## `{parser.prog} {name}`", ""]
        if command.description:
            lines += [command.description, ""]
        lines += ["```text", f"$ {parser.prog} {name} --help", _help(command), "```", ""]
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for title, path in unwritten(config, files, PAGE):
        if path == PAGE:
            add(files, config, path, page(title))
    return files
