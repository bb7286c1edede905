"""The platform's voice input (dictation), where it offers one; nothing otherwise.

The app has no speech recognition of its own. A 语音 button on the long text fields
puts the cursor in the field and starts what the system has:

* Windows 10 (1709, build 16299) and later: voice typing, opened with Win+H, which
  types into the focused field (Chinese when the Chinese language pack's speech is
  installed). Sent with ``SendInput``.
* Linux: ``nerd-dictation`` (offline, VOSK) when it is installed: ``begin`` types
  into the focused window and stops after a few seconds of silence.
* Any system: ``GRIDFIELD_DICTATION_COMMAND`` (set by IT), a command that starts the
  input method's dictation.

When none of these exists the button is hidden: a worker never meets a voice button
that does nothing.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("gridfield.ui")
_running: list[subprocess.Popen[bytes]] = []  # reaped at the next start

ENV_COMMAND = "GRIDFIELD_DICTATION_COMMAND"
WINDOWS_MIN_BUILD = 16299  # Win+H dictation since Windows 10 version 1709
VK_LWIN, VK_H, KEYEVENTF_KEYUP, INPUT_KEYBOARD = 0x5B, 0x48, 0x0002, 1


def _windows_build() -> int:
    try:
        return int(sys.getwindowsversion().build)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return 0


def dictation_kind(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    windows_build: Callable[[], int] = _windows_build,
) -> str | None:
    """``"command"``, ``"windows"``, ``"nerd-dictation"`` or None (no voice input)."""
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    if env.get(ENV_COMMAND, "").strip():
        return "command"
    if platform == "win32":
        return "windows" if windows_build() >= WINDOWS_MIN_BUILD else None
    if platform.startswith("linux") and which("nerd-dictation"):
        return "nerd-dictation"
    return None


def win_h_keys() -> list[tuple[int, int]]:
    """(virtual key, flags) in order: Win down, H down, H up, Win up."""
    return [(VK_LWIN, 0), (VK_H, 0), (VK_H, KEYEVENTF_KEYUP), (VK_LWIN, KEYEVENTF_KEYUP)]


def _send_win_h() -> bool:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    class KEYBDINPUT(ctypes.Structure):
        _fields_ = [("wVk", wintypes.WORD), ("wScan", wintypes.WORD),
                    ("dwFlags", wintypes.DWORD), ("time", wintypes.DWORD),
                    ("dwExtraInfo", ctypes.c_size_t)]

    class MOUSEINPUT(ctypes.Structure):  # the union's largest member sets its size
        _fields_ = [("dx", wintypes.LONG), ("dy", wintypes.LONG),
                    ("mouseData", wintypes.DWORD), ("dwFlags", wintypes.DWORD),
                    ("time", wintypes.DWORD), ("dwExtraInfo", ctypes.c_size_t)]

    class _U(ctypes.Union):
        _fields_ = [("ki", KEYBDINPUT), ("mi", MOUSEINPUT)]

    class INPUT(ctypes.Structure):
        _fields_ = [("type", wintypes.DWORD), ("u", _U)]

    keys = win_h_keys()
    inputs = (INPUT * len(keys))(*[
        INPUT(INPUT_KEYBOARD, _U(ki=KEYBDINPUT(vk, 0, flags, 0, 0))) for vk, flags in keys])
    sent = ctypes.windll.user32.SendInput(len(keys), inputs, ctypes.sizeof(INPUT))  # type: ignore[attr-defined]
    return int(sent) == len(keys)


def start_dictation(kind: str | None, env: Mapping[str, str] | None = None) -> bool:
    """Start the platform's dictation (the text field has the focus already); False
    when it could not be started (then the field is simply typed in)."""
    env = os.environ if env is None else env
    argv: list[str]
    if kind == "windows":
        return _send_win_h()
    if kind == "nerd-dictation":
        argv = ["nerd-dictation", "begin", "--timeout", "4"]
    elif kind == "command":
        argv = shlex.split(env.get(ENV_COMMAND, ""))
    else:
        return False
    try:
        options: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                                   "stderr": subprocess.DEVNULL, "start_new_session": True}
        _running[:] = [p for p in _running if p.poll() is None]
        _running.append(subprocess.Popen(argv, **options))  # IT's or the system's tool
    except OSError as exc:
        log.warning("dictation %s could not start: %s", kind, type(exc).__name__)
        return False
    return True
