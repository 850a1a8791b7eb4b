"""Avatar uploads: validated and normalised with Pillow before anything is stored."""

import io

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuses decompression bombs long before Pillow's own limit
SIZE = 400


class AvatarError(ValueError):
    pass


def normalise_avatar(upload) -> io.BytesIO:
    """Return a square JPEG of at most SIZE px, or raise AvatarError with a reason a person understands."""
    if upload.size > MAX_BYTES:
        raise AvatarError("That image is too large (5 MB at most).")
    upload.seek(0)
    try:
        with Image.open(upload) as probe:
            if probe.format not in {"JPEG", "PNG", "WEBP", "GIF"}:
                raise AvatarError("Use a JPEG, PNG, WebP or GIF image.")
            width, height = probe.size
            if width * height > MAX_PIXELS or width < 16 or height < 16:
                raise AvatarError("That image's dimensions are not usable (16 px to 40 megapixels).")
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image = ImageOps.fit(image, (min(SIZE, width, height),) * 2)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise AvatarError("That file is not an image we can read.") from None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    out.seek(0)
    return out
