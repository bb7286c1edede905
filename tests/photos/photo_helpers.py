"""Test images for the photo tests, generated in memory."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def scene(width: int, height: int, seed: int = 7, noise: float = 0.0) -> Image.Image:
    """A photo-like RGB image: smooth gradients, coloured blocks, optional sensor noise."""
    small = (max(1, width // 8), max(1, height // 8))
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(small),
            Image.radial_gradient("L").resize(small),
            Image.linear_gradient("L").rotate(90).resize(small),
        ),
    )
    draw = ImageDraw.Draw(base)
    rng = random.Random(seed)
    for _ in range(40):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        draw.rectangle(
            (x, y, x + rng.randrange(4, 60), y + rng.randrange(4, 40)),
            fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
    image = base.resize((width, height), Image.Resampling.BICUBIC)
    if noise:
        grain = Image.merge("RGB", [Image.effect_noise((width, height), 40.0)] * 3)
        image = Image.blend(image, grain, noise)
    return image


def jpeg_bytes(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    if exif is None:
        image.save(out, "JPEG", quality=quality)
    else:
        image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()
