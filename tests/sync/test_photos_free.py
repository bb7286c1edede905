"""Freeing synced photos against a real central server: a photo the centre holds has
its full JPEG deleted here (thumbnail and metadata kept); one not uploaded is kept;
the CLI ``fieldclient photos free-synced`` does the same and says how much."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sync_helpers import PIN, LiveServer, new_grid

from fieldclient.cli import main as fieldclient_main
from fieldclient.photos import pipeline, space
from fieldclient.storage.session import Session


def _jpeg(path: Path, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (1600, 1200), colour)
    for x in range(0, 1600, 40):  # some detail, so the JPEG has a real size
        image.paste((255 - colour[0], 90, 30), (x, 0, x + 9, 1200))
    image.save(path, "JPEG", quality=92)
    return path


def _audit_actions(session: Session) -> list[str]:
    return [r[0] for r in session.db.execute("SELECT action FROM audit_log").fetchall()]


def test_uploaded_photos_are_freed_and_a_photo_not_uploaded_is_kept(
    live: LiveServer, make_device: Any, tmp_path: Path,
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    session = dev.session
    sent = [pipeline.add_photo_file(session, _jpeg(tmp_path / f"a{i}.jpg", (40 * i, 160, 90)))
            for i in range(2)]
    assert space.photo_space(session).freeable == 0  # nothing at the centre yet
    assert space.free_synced(session).count == 0
    report = dev.engine.run_once()
    assert report.ok, report.error
    for photo in sent:
        assert live.stored_photo(photo.sha256) is not None  # the centre holds it
    later = pipeline.add_photo_file(session, _jpeg(tmp_path / "later.jpg", (200, 30, 30)))

    before = space.photo_space(session)
    assert before.photos == 3 and before.freeable == 2 and before.waiting == 1
    assert before.freeable_bytes == sum(p.bytes for p in sent)
    freed = space.free_synced(session)
    assert freed.count == 2 and freed.bytes == before.freeable_bytes
    assert freed.kept_waiting == 1
    after = space.photo_space(session)
    assert after.freed == 2 and after.freeable == 0 and after.waiting == 1
    assert after.on_disk_bytes < before.on_disk_bytes - freed.bytes * 0.9
    assert "photos_freed" in _audit_actions(session)
    for photo in sent:
        assert not session.blobs.exists(photo.blob_id)
        assert session.blobs.exists(photo.thumb_blob_id)  # the thumbnail stays
        assert pipeline.decode_for_display(session, photo.id, thumbnail=True)
        with pytest.raises(pipeline.PhotoFreed) as caught:
            pipeline.decode_for_display(session, photo.id)
        assert "中心" in caught.value.message()
        assert pipeline.get_photo(session, photo.id).sha256 == photo.sha256  # metadata
    # The photo not uploaded is whole; the next sync sends it and it can go then.
    assert pipeline.decode_for_display(session, later.id)
    assert session.blobs.exists(later.blob_id)
    assert space.free_synced(session).count == 0
    report = dev.engine.run_once()
    assert report.ok and report.photos_uploaded == 1
    assert live.stored_photo(later.sha256) is not None
    assert space.free_synced(session).count == 1
    assert not session.blobs.exists(later.blob_id)
    # A later sync does not try to send a freed photo again.
    report = dev.engine.run_once()
    assert report.ok and report.photos_uploaded == 0


def test_a_corrupt_or_pending_upload_is_never_freed(
    live: LiveServer, make_device: Any, tmp_path: Path,
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    session = dev.session
    photo = pipeline.add_photo_file(session, _jpeg(tmp_path / "p.jpg", (10, 10, 200)))
    for state in ("pending", "corrupt"):
        with session.db.conn:
            session.db.execute(
                "INSERT INTO photo_uploads (sha256, blob_id, size, offset, state, updated_at)"
                " VALUES (?, ?, ?, 0, ?, 0) ON CONFLICT(sha256) DO UPDATE SET"
                " state = excluded.state", (photo.sha256, photo.blob_id, photo.bytes, state))
        assert space.free_synced(session).count == 0
        assert session.blobs.exists(photo.blob_id)
    # Bytes at the centre but the photo's record still waiting in the outbox: kept.
    with session.db.conn:
        session.db.execute("UPDATE photo_uploads SET state = 'done' WHERE sha256 = ?",
                           (photo.sha256,))
    assert session.db.execute("SELECT count(*) FROM outbox WHERE kind = 'photo.meta'"
                              " AND state = 'pending'").fetchone()[0] == 1
    assert space.free_synced(session).count == 0 and session.blobs.exists(photo.blob_id)


def test_cli_free_synced_json_and_text(
    live: LiveServer, make_device: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    photo = pipeline.add_photo_file(dev.session, _jpeg(tmp_path / "c.jpg", (90, 90, 20)))
    assert dev.engine.run_once().ok
    kept = pipeline.add_photo_file(dev.session, _jpeg(tmp_path / "k.jpg", (20, 90, 90)))
    base = ["--data-dir", str(dev.data_dir), "photos", "free-synced", "--pin-stdin"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    monkeypatch.setenv("FIELDCLIENT_LANG", "zh_CN")
    assert fieldclient_main([*base, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "可以释放的1张" in out and "还没上传的1张，不会释放" in out
    assert dev.session.blobs.exists(photo.blob_id)  # a dry run deletes nothing
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert fieldclient_main([*base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["freed"]["count"] == 1 and data["freed"]["bytes"] == photo.bytes
    assert data["after"]["freed"] == 1 and data["after"]["waiting"] == 1
    assert not dev.session.blobs.exists(photo.blob_id)
    assert dev.session.blobs.exists(kept.blob_id)
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    monkeypatch.setenv("FIELDCLIENT_LANG", "en")
    assert fieldclient_main([*base]) == 0
    out = capsys.readouterr().out
    assert "Freed the full image of 0 photo(s)" in out and "not uploaded yet (kept): 1" in out
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in out)
