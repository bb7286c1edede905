"""What every command group of ``fieldclient`` shares: exit codes, the usage error,
reading PINs from standard input, printing text or JSON, and :class:`CommandParser`,
through which a group adds its commands.

Command modules import this, never ``fieldclient.cli`` itself: the entry point imports
them, so nothing imports in a circle.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_WRONG_PIN, EXIT_ERASED, EXIT_NOT_SET_UP = 0, 1, 2, 3, 4, 5

Command = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    pass


def t(text: str, **params: Any) -> str:
    return translate("cli", text).format(**params)


def read_pins(count: int) -> list[str]:
    """``count`` PINs, one per line of standard input."""
    pins = []
    for _ in range(count):
        line = sys.stdin.readline()
        if not line:
            raise UsageError(t(QT_TRANSLATE_NOOP("cli", "标准输入中缺少PIN码（每行一个）。")))
        pins.append(line.strip())
    return pins


def require_pin_stdin(args: argparse.Namespace) -> str:
    if not args.pin_stdin:
        raise UsageError(
            t(QT_TRANSLATE_NOOP("cli", "PIN码只能从标准输入读取：请加上 --pin-stdin。"))
        )
    return read_pins(1)[0]


def emit(args: argparse.Namespace, data: dict[str, Any] | list[Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))
    else:
        print("\n".join(lines))


def no_tpm_warning() -> str:
    return t(
        QT_TRANSLATE_NOOP(
            "cli",
            "注意：本机没有TPM安全芯片：有人复制了数据（和系统密钥库）后，可以离线反复猜PIN码。",
        )
    )


def store_label(kind: str | None, name: str | None) -> str:
    """The secret store in words: TPM 2.0 安全芯片 / system keyring / file."""
    if kind == "tpm":
        return t(QT_TRANSLATE_NOOP("cli", "TPM 2.0 安全芯片（{name}）"), name=name or "")
    if kind == "keyring":
        return t(QT_TRANSLATE_NOOP("cli", "系统密钥库（{name}）"), name=name or "")
    if kind == "file":
        return t(QT_TRANSLATE_NOOP("cli", "数据目录中的文件（{name}）"), name=name or "")
    return t(QT_TRANSLATE_NOOP("cli", "未知"))


def fallback_warning() -> str:
    return t(
        QT_TRANSLATE_NOOP(
            "cli",
            "注意：本机没有可用的系统密钥库，设备密钥保存在数据目录的文件中，防护较弱。",
        )
    )


# argparse's own words, in Chinese on a Chinese command line (FIELDCLIENT_LANG).
ARGPARSE_ZH = {
    "show this help message and exit": "显示帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "positional arguments": "参数",
    "options": "选项",
    "usage: ": "用法：",
}


def _argparse_text(text: str) -> str:
    from fieldclient.i18n import cli_language

    return ARGPARSE_ZH.get(text, text) if cli_language() == "zh_CN" else text


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` in the command line's language: the help texts are Chinese sources
    (context ``cliHelp``) translated when printed, so FIELDCLIENT_LANG=en gives English."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(translate("cliHelp", text))

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text is None:
            return None
        return _argparse_text(translate("cliHelp", text))

    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups,
                          _argparse_text("usage: ") if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(_argparse_text(heading) if heading else heading)


class HelpParser(argparse.ArgumentParser):
    """The ``fieldclient`` parser and all its sub-parsers (they are this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def data_dir_parent() -> argparse.ArgumentParser:
    """The options every command takes (``--data-dir``), as an argparse parent."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help=QT_TRANSLATE_NOOP("cliHelp", "设备数据目录（默认：本系统的用户数据目录）"),
    )
    return common


@dataclass
class CommandParser:
    """The ``fieldclient`` parser as a command group sees it: the sub-command list
    (``commands``), the shared options (``common``) and :meth:`command`."""

    commands: Any  # argparse's sub-parsers action (a private class)
    common: argparse.ArgumentParser

    def command(self, name: str, func: Command, help_text: str, pin: bool = True,
                as_json: bool = True, into: Any = None) -> argparse.ArgumentParser:
        """Add command ``name`` (under ``into``, default the top level) running ``func``,
        with ``--pin-stdin`` and ``--json`` unless told otherwise."""
        target = self.commands if into is None else into
        sub: argparse.ArgumentParser = target.add_parser(name, parents=[self.common],
                                                         help=help_text)
        if pin:
            sub.add_argument("--pin-stdin", action="store_true",
                             help=QT_TRANSLATE_NOOP("cliHelp", "从标准输入读取PIN码"))
        if as_json:
            sub.add_argument("--json", action="store_true",
                             help=QT_TRANSLATE_NOOP("cliHelp", "输出JSON，供程序读取"))
        sub.set_defaults(func=func)
        return sub

    def existing(self, name: str) -> argparse.ArgumentParser:
        """A top-level command another group added (to extend it)."""
        parser: argparse.ArgumentParser = self.commands.choices[name]
        return parser
