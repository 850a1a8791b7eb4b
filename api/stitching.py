"""Join MP4 files end to end without re-encoding (stream copy), for extensions.

Only files with the same streams and codec parameters can be joined this way: every video this
site makes in one orientation with one profile qualifies, since one encoder with one setting wrote
them all. Copying packets takes milliseconds where re-encoding would take seconds per clip, so it
runs in the request that first downloads an extension.
"""

from __future__ import annotations

from fractions import Fraction
from typing import BinaryIO

import av

KINDS = ("video", "audio")


class StitchError(ValueError):
    """The files can't be joined by stream copy (different codecs, sizes or streams)."""


def _signature(container) -> list[tuple]:
    signature = []
    for stream in container.streams:
        if stream.type not in KINDS:
            continue
        codec = stream.codec_context
        signature.append(
            (
                stream.type,
                codec.name,
                getattr(codec, "width", None),
                getattr(codec, "height", None),
                getattr(codec, "sample_rate", None),
                bytes(codec.extradata or b""),
            )
        )
    return signature


def stitch(sources: list[BinaryIO], output: str) -> None:
    """Write `sources` (readable, seekable MP4 files) one after another into the MP4 at `output`.

    Timestamps of each part are shifted to start where the previous part ended. A later part's
    AAC priming packets (before its stream start) are dropped so sound stays in sync with
    pictures. Raises StitchError when the parts are not compatible.
    """
    containers = []
    try:
        for source in sources:
            try:
                containers.append(av.open(source))
            except (av.error.FFmpegError, OSError) as error:
                raise StitchError(f"can't read a part: {error}") from error
        signature = _signature(containers[0])
        if not signature or any(_signature(c) != signature for c in containers[1:]):
            raise StitchError("the parts have different streams or codec parameters")
        with av.open(output, mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            streams = {
                s.type: out.add_stream_from_template(s) for s in containers[0].streams if s.type in KINDS
            }
            end = dict.fromkeys(streams, Fraction(0))
            last_dts: dict[str, Fraction | None] = dict.fromkeys(streams)
            for index, container in enumerate(containers):
                offset = dict(end)
                for packet in container.demux():
                    kind = packet.stream.type
                    if kind not in streams or packet.dts is None or packet.pts is None:
                        continue
                    base = packet.time_base
                    start = packet.stream.start_time or 0
                    if index and kind == "audio" and packet.pts < start:
                        continue
                    shift = round(offset[kind] / base) - start
                    packet.pts += shift
                    packet.dts += shift
                    # B-frames make a part's first decode time precede its first picture: nudge it
                    # past the previous part's last one, as ffmpeg's concat does.
                    if last_dts[kind] is not None and packet.dts * base <= last_dts[kind]:
                        packet.dts = int(last_dts[kind] / base) + 1
                        packet.pts = max(packet.pts, packet.dts)
                    last_dts[kind] = packet.dts * base
                    end[kind] = max(end[kind], (packet.pts + (packet.duration or 0)) * base)
                    packet.stream = streams[kind]
                    out.mux(packet)
    except av.error.FFmpegError as error:
        raise StitchError(str(error)) from error
    finally:
        for container in containers:
            container.close()
