"""The lock screen says whom to call for a forgotten PIN: the centre's support_contact,
kept beside the plain settings at unlock and sync so it shows before any unlock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot
from uihelpers import PIN

from fieldclient.fieldwork import serverconfig
from fieldclient.settings import load_settings
from fieldclient.storage.session import unlock_device
from ui.controller import AppController
from ui.screens.unlock import UnlockScreen


def test_forgot_pin_says_whom_to_call(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    assert "请联系单位的IT人员" in screen.support_hint.text()  # nothing from the centre yet
    session = unlock_device(device, PIN)
    serverconfig.put(session.db, serverconfig.SUPPORT_CONTACT,  # as a sync stores it
                     {"name": "江北区网格中心信息科", "phone": "0574-87654321"}, 1)
    controller.on_session(session)
    saved = load_settings(controller.settings_path)
    assert (saved.support_name, saved.support_phone) == ("江北区网格中心信息科", "0574-87654321")
    controller.lock("manual")
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    assert screen.support_hint.isVisible()
    assert "江北区网格中心信息科：0574-87654321" in screen.support_hint.text()
    from ui import i18n

    i18n.set_language("en")
    qtbot.waitUntil(lambda: "forget" in screen.support_hint.text().lower())
    assert "0574-87654321" in screen.support_hint.text()
    assert "江北区网格中心信息科" in screen.support_hint.text()


def test_a_bad_contact_is_ignored(make_controller: Callable[..., AppController],
                                  device: Path) -> None:
    session = unlock_device(device, PIN)
    try:
        serverconfig.put(session.db, serverconfig.SUPPORT_CONTACT, {"name": "IT", "phone": "x"}, 1)
        assert serverconfig.support_contact(session.db) is None
    finally:
        session.close()


def test_a_hostile_contact_from_the_centre_shows_as_plain_bounded_text(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot
) -> None:
    """The name comes from the centre (40 characters at most): Qt rich text in it (an
    image 2000 px tall, a link) must not be rendered on the lock screen; a name with
    control or bidirectional characters (a phone number shown reversed) is not used."""
    controller = make_controller()
    session = unlock_device(device, PIN)
    markup = "<img src=x width=2000 height=2000>"
    serverconfig.put(session.db, serverconfig.SUPPORT_CONTACT,
                     {"name": markup, "phone": "0574-87654321"}, 1)
    controller.on_session(session)
    controller.lock("manual")
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    hint = screen.support_hint
    assert markup in hint.text()
    assert hint.heightForWidth(400) < 400  # the tags are text, not a 2000 px image
    session = unlock_device(device, PIN)  # the lock closed the other
    for name in ("信息科\u202e", "信息科\x1b[2J", "信息\u200f科", "信息科\x07"):
        serverconfig.put(session.db, serverconfig.SUPPORT_CONTACT,
                         {"name": name, "phone": "0574-87654321"}, 2)
        assert serverconfig.support_contact(session.db) is None, name
    session.close()
