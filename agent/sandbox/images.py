"""Text in images (PNG, JPEG, TIFF, every TIFF frame) by OCR, bounded by pixels, frames and time."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from agent.sandbox.job import HeavyJob
from agent.sandbox.ocr import Tesseract
from agent.sandbox.pieces import Piece, Stop

# Our own bound replaces Pillow's decompression-bomb warning (checked before any pixel is decoded).
Image.MAX_IMAGE_PIXELS = None
_REFUSE_FACTOR = 4


def read_image(job: HeavyJob, ocr: Tesseract, clock: Callable[[], float] = time.monotonic) -> Iterator[Piece]:
    """One page piece per frame of the image in ``job``, read by ``ocr``."""
    try:
        image = Image.open(io.BytesIO(job.data))
    except (UnidentifiedImageError, OSError, ValueError) as exc:  # image magic, but nothing Pillow reads
        raise Stop("unsupported-format") from exc
    width, height = image.size
    if width * height > _REFUSE_FACTOR * job.max_ocr_pixels:
        raise Stop("over-budget")
    spent = 0.0
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if index >= job.max_ocr_pages:
                raise Stop("ocr-page-limit")
            began = clock()
            upright = ImageOps.exif_transpose(frame) if index == 0 else frame
            text = ocr.text(upright, job.max_ocr_pixels, job.ocr_time_s - spent)
            spent += clock() - began
            yield ("ocr_s", spent)
            yield ("page", text)
    except (OSError, ValueError, EOFError, SyntaxError) as exc:  # Pillow's errors for broken image data
        raise Stop("truncated" if isinstance(exc, EOFError) else "corrupt") from exc
