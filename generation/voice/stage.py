"""The voice stage after decoding: the clip's speech in the cameo's voice, everything else untouched.

    stage = get_voice_stage()            # None when VOICE_ROUTE = "none"
    matching_set = stage.enrol(voice16k) # once per cameo; the caller stores it
    result = stage.convert(audio, rate, matching_set, target_embedding)

``convert`` separates speech (Demucs), finds speech regions with silero-vad on the separated speech,
converts each region's speech with kNN-VC and adds it back over the background. Outside the regions
the output *is* the input, sample for sample; inside, output = input + w x (converted - speech),
where w rises from 0 to 1 over 10 ms at each region edge (so the edges join without clicks) — that
is background + converted speech once w = 1. The length never changes, so lip sync survives.

Settings (``sora_site/settings.py``): ``VOICE_ROUTE`` (``none`` | ``knnvc``), ``VOICE_DEMUCS_DIR``,
``VOICE_DEMUCS_MODEL``, ``VOICE_WAVLM_DIR``, ``VOICE_VOCODER_PATH``. Every path is local; nothing is
downloaded. :func:`check_voice_settings` lists what is wrong without loading anything.

Importing this module is cheap (numpy only); torch and the models load in :meth:`VoiceStage.load`.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from generation.engine.checkpoints import file_sha256

ROUTES = ("none", "knnvc")
RATE = 16_000  # WavLM, silero-vad and Resemblyzer all work at 16 kHz
FADE_SECONDS = 0.01
NEIGHBOURS = 4  # kNN-VC's k
SNR_CAP_DB = 150.0  # float32 rounding alone sits around here; "no measurable change"
WEIGHT_SUFFIXES = (".th", ".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".yaml", ".json")


class VoiceError(ValueError):
    """Input the stage can't work with (no speech in a voice sample, a bad array). A sentence."""


@dataclass
class VoiceResult:
    """What :meth:`VoiceStage.convert` made. ``report`` is JSON-able:

    - ``route``, ``checkpoints`` ([{name, path, sha256}]), ``sample_rate``, ``seconds``;
    - ``speech_regions`` [[start_s, end_s], ...] (silero-vad on the separated speech, 0.1 s
      padding; rounded to 0.1 ms), the same as exact ``speech_region_samples`` [[start, end),
      ...] at ``sample_rate``, and ``speech_seconds``; ``converted`` (False when no speech was found: the
      audio is then returned unchanged and ``note`` says so);
    - ``similarity_before`` / ``similarity_after``: Resemblyzer cosine of what a viewer hears
      (the full mix) in the speech regions to ``target_embedding`` (None without one). This is
      evidence, not an acceptance test: converting the whole mix would raise it too;
    - ``background_snr_db``: in the speech regions, the output minus the converted speech
      against the input's separated background (capped at 150 dB = unchanged to float
      rounding), and ``untouched_outside_speech``: the output compared with the input outside
      the regions, sample for sample;
    - ``timings_s``.
    """

    audio: np.ndarray  # float32, exactly the input's shape
    report: dict = field(default_factory=dict)


def check_voice_settings(settings) -> list[str]:
    """Problems with the VOICE_* settings, one sentence each naming the setting and path; [] if none.

    Only looks at the file system (cheap, no model loads), so it can run as a Django system check
    at startup.
    """
    route = getattr(settings, "VOICE_ROUTE", "none") or "none"
    if route not in ROUTES:
        return [f"VOICE_ROUTE is {route!r}; it must be one of: {', '.join(ROUTES)}."]
    if route == "none":
        return []
    problems = []
    paths = {}
    for name, kind in (
        ("VOICE_DEMUCS_DIR", "directory"),
        ("VOICE_WAVLM_DIR", "directory"),
        ("VOICE_VOCODER_PATH", "file"),
    ):
        value = str(getattr(settings, name, "") or "")
        if not value:
            problems.append(f"{name} is empty; VOICE_ROUTE=knnvc needs a local {kind} there.")
        elif kind == "directory" and not Path(value).is_dir():
            problems.append(f"{name} is {value!r}, which is not an existing directory.")
        elif kind == "file" and not Path(value).is_file():
            problems.append(f"{name} is {value!r}, which is not an existing file.")
        else:
            paths[name] = Path(value)
    model = str(getattr(settings, "VOICE_DEMUCS_MODEL", "") or "")
    if not model:
        problems.append("VOICE_DEMUCS_MODEL is empty; name the Demucs model to load (e.g. htdemucs).")
    elif "VOICE_DEMUCS_DIR" in paths:
        from .separation import demucs_files

        if not any(p.suffix == ".th" for p in demucs_files(paths["VOICE_DEMUCS_DIR"], model)):
            problems.append(
                f"VOICE_DEMUCS_MODEL is {model!r}, but {paths['VOICE_DEMUCS_DIR']} has no {model}.yaml "
                f"with its .th checkpoints nor a {model}.th."
            )
    if "VOICE_WAVLM_DIR" in paths and not (paths["VOICE_WAVLM_DIR"] / "config.json").is_file():
        problems.append(f"VOICE_WAVLM_DIR is {str(paths['VOICE_WAVLM_DIR'])!r}, which has no config.json.")
    return problems


def _hash_files(files: list[Path]) -> str:
    """sha256 of the files' names and contents, streamed: a 1.2 GB WavLM never sits in memory."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint(name: str, path: Path, files: list[Path] | None = None) -> dict:
    """``{name, path, sha256}`` of a checkpoint.

    A single file's sha256 is the plain one (comparable with a published checksum). A directory's
    is the sha256 over its weight and config files in name order, each name followed by a NUL and
    the file's bytes.
    """
    if files is None and path.is_file():
        return {"name": name, "path": str(path), "sha256": file_sha256(path)}
    if files is None:
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    return {"name": name, "path": str(path), "sha256": _hash_files(files)}


def _resample(audio: np.ndarray, old: int, new: int, length: int | None = None) -> np.ndarray:
    """Resample 1-D float audio (julius, windowed sinc); ``length`` pads or trims to that many samples."""
    import julius
    import torch

    audio = np.ascontiguousarray(audio, np.float32)
    if old != new:
        audio = julius.resample_frac(torch.from_numpy(audio), old, new, full=length is not None).numpy()
    if length is not None:
        audio = np.pad(audio[:length], (0, max(0, length - len(audio))))
    return audio.astype(np.float32, copy=False)


def _regions(segments, sample_rate: int, length: int) -> list[tuple[int, int]]:
    """Sample ranges of the VAD's segments; padded segments that touch or overlap become one."""
    regions: list[list[int]] = []
    for start_s, end_s in segments:
        start, end = math.floor(start_s * sample_rate), min(length, math.ceil(end_s * sample_rate))
        if end <= start:
            continue
        if regions and start <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    return [(start, end) for start, end in regions]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator else 0.0


def _checked_audio(audio) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise VoiceError("The audio must be a non-empty (channels, samples) array.")
    if not np.all(np.isfinite(audio)):
        raise VoiceError("The audio contains NaN or infinite samples.")
    return audio


def _region_report(regions: list[tuple[int, int]], sample_rate: int) -> dict:
    return {
        "speech_regions": [[round(s / sample_rate, 4), round(e / sample_rate, 4)] for s, e in regions],
        "speech_region_samples": [[s, e] for s, e in regions],
        "speech_seconds": round(sum(e - s for s, e in regions) / sample_rate, 4),
    }


def _inside(regions: list[tuple[int, int]], length: int) -> np.ndarray:
    """Boolean mask of the samples inside the regions."""
    inside = np.zeros(length, bool)
    for start, end in regions:
        inside[start:end] = True
    return inside


def _background_snr(without_speech: np.ndarray, background: np.ndarray, inside: np.ndarray) -> float | None:
    """dB of the separated background against what the output has besides the converted speech,
    in the regions (capped at ``SNR_CAP_DB``); None when the background is silent there."""
    expected = background[:, inside].astype(np.float64)
    error = without_speech[:, inside].astype(np.float64) - expected
    signal, noise = float(np.sum(expected**2)), float(np.sum(error**2))
    if signal == 0:
        return None
    return round(min(SNR_CAP_DB, 10 * math.log10(signal / noise)) if noise else SNR_CAP_DB, 2)


class VoiceStage:
    """Demucs + kNN-VC, loaded once per process (see :func:`get_voice_stage`).

    Calls are serialised by a lock: the models are shared and a worker converts one clip at a time.
    """

    route = "knnvc"

    def __init__(self, separator, knnvc, checkpoints: list[dict]):
        self.separator = separator
        self.knnvc = knnvc
        self.checkpoints = checkpoints
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, demucs_dir: str | Path, demucs_model: str, wavlm_dir: str | Path, vocoder_path: str | Path
    ) -> VoiceStage:
        """Load the three models and fingerprint their files (sha256, streamed; ~3 s per GB).

        Raises FileNotFoundError / ValueError naming the path when a model is missing or doesn't fit.
        """
        from .knnvc import KnnVC
        from .separation import demucs_files, load_separator

        demucs_dir, wavlm_dir, vocoder_path = Path(demucs_dir), Path(wavlm_dir), Path(vocoder_path)
        separator = load_separator(demucs_dir, demucs_model)
        knnvc = KnnVC.load(wavlm_dir, vocoder_path)
        checkpoints = [
            fingerprint(f"demucs:{demucs_model}", demucs_dir, demucs_files(demucs_dir, demucs_model)),
            fingerprint("wavlm", wavlm_dir),
            fingerprint("hifigan", vocoder_path),
        ]
        return cls(separator, knnvc, checkpoints)

    def enrol(self, voice_sample16k: np.ndarray) -> np.ndarray:
        """The cameo's matching set: float32 (frames, dim) WavLM features of its voice sample's speech.

        Silences are cut first (silero-vad), so only speech frames can be matched. Deterministic:
        the same sample gives the same array. Raises VoiceError when the sample has no speech.
        Cost: one pass of WavLM cut to six layers over the sample's speech.
        """
        from .recognition import speech_audio, speech_segments

        sample = np.asarray(voice_sample16k, np.float32).flatten()
        segments = speech_segments(sample) if len(sample) else []
        if not segments:
            raise VoiceError("No speech was found in the voice sample.")
        with self._lock:
            return self.knnvc.enrol(speech_audio(sample, segments))

    def convert(
        self,
        audio: np.ndarray,
        sample_rate: int,
        matching_set: np.ndarray,
        target_embedding=None,
    ) -> VoiceResult:
        """The clip with its speech in the matching set's voice. ``audio`` is float (channels, n).

        ``VoiceResult.audio`` is float32 with exactly the input's shape; :class:`VoiceResult` says
        what the report holds. Speech is converted in mono and added to every channel, scaled to
        each channel's share of the separated speech. Cost, real-size models on two idle cores
        (FACTS): HTDemucs ~0.5 s per second of clip, kNN-VC ~0.3 s per second of speech;
        bench/bench_voice_route2.py measures it.
        """
        from .recognition import speech_audio, speech_segments

        audio = _checked_audio(audio)
        length = audio.shape[1]
        report = self._report_header(length, sample_rate)
        timings = {}
        started = time.perf_counter()
        with self._lock:
            from .separation import separate

            speech, background = separate(self.separator, audio, sample_rate)
            timings["separation"] = time.perf_counter() - started

            speech16k = _resample(speech.mean(0), sample_rate, RATE)
            regions = _regions(speech_segments(speech16k), sample_rate, length)
            report.update(_region_report(regions, sample_rate))
            started = time.perf_counter()
            output, placed = self._convert_regions(audio, speech, regions, sample_rate, matching_set)
            timings["conversion"] = time.perf_counter() - started

        inside = _inside(regions, length)
        report["converted"] = bool(regions)
        report["untouched_outside_speech"] = bool(np.array_equal(output[:, ~inside], audio[:, ~inside]))
        if not regions:
            report["note"] = "No speech was found in the separated speech: the audio is returned unchanged."
            report.update(similarity_before=None, similarity_after=None, background_snr_db=None)
        else:
            report["background_snr_db"] = _background_snr(output - placed, background, inside)
            started = time.perf_counter()
            report.update(similarity_before=None, similarity_after=None)
            if target_embedding is not None:
                segments = [(s / sample_rate, e / sample_rate) for s, e in regions]
                for key, mix in (("similarity_before", audio), ("similarity_after", output)):
                    heard = speech_audio(_resample(mix.mean(0), sample_rate, RATE), segments)
                    report[key] = round(_cosine(_embedding(heard), target_embedding), 4)
            timings["similarity"] = time.perf_counter() - started
        report["timings_s"] = {key: round(value, 3) for key, value in timings.items()}
        return VoiceResult(output, report)

    def _report_header(self, length: int, sample_rate: int) -> dict:
        return {
            "route": self.route,
            "checkpoints": self.checkpoints,
            "sample_rate": int(sample_rate),
            "seconds": round(length / sample_rate, 4),
        }

    def _convert_regions(self, audio, speech, regions, sample_rate, matching_set):
        """(output, placed speech): the input with every region converted, and the speech as it
        ends up in the output."""
        output = audio.copy()
        placed = speech.copy()
        for start, end in regions:
            output[:, start:end], placed[:, start:end] = self._convert_region(
                audio[:, start:end], speech[:, start:end], sample_rate, matching_set
            )
        return output, placed

    def _convert_region(self, mix, speech, sample_rate, matching_set) -> tuple[np.ndarray, np.ndarray]:
        """(output, placed speech) for one region; both (channels, region length)."""
        length = mix.shape[1]
        mono = speech.mean(0)
        mono16k = _resample(mono, sample_rate, RATE)
        converted16k = self.knnvc.convert(mono16k, matching_set, k=NEIGHBOURS)
        # The vocoder's level is arbitrary (kNN-VC normalises loudness afterwards): match the speech.
        source_rms, converted_rms = _rms(mono16k), _rms(converted16k)
        if converted_rms > 0:
            converted16k = converted16k * (source_rms / converted_rms)
        converted = _resample(converted16k, RATE, sample_rate, length=length)
        mono_rms = _rms(mono)
        shares = [(_rms(channel) / mono_rms) if mono_rms else 1.0 for channel in speech]
        fade = min(round(FADE_SECONDS * sample_rate), length // 2)
        weight = np.ones(length, np.float32)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade + 2, dtype=np.float32)[1:-1]
            weight[:fade], weight[length - fade :] = ramp, ramp[::-1]
        change = np.stack([converted * share for share in shares]) - speech
        # mix + w (converted - speech): exactly the input where w = 0, background + converted where 1.
        return mix + weight * change, speech + weight * change

    def convert_file(self, mp4_in, mp4_out, matching_set: np.ndarray, target_embedding=None) -> dict:
        """Convert an MP4's sound track; the video stream is copied, not re-encoded. Returns the report.

        The audio is decoded at its own rate and channel count and re-encoded as AAC with exactly as
        many samples, so the file keeps its audio duration. ``mp4_out`` appears atomically.
        Raises generation.media.MediaError for a file without sound.
        """
        from generation import media

        audio, sample_rate = media.read_audio(mp4_in)
        result = self.convert(audio, sample_rate, matching_set, target_embedding)
        replace_audio(mp4_in, mp4_out, result.audio, sample_rate)
        return result.report


def _embedding(speech16k: np.ndarray) -> list[float]:
    """Resemblyzer's embedding, leaving torch's thread count as it was (Resemblyzer pins it to 1)."""
    import torch

    from .recognition import voice_embedding

    threads = torch.get_num_threads()
    try:
        return voice_embedding(speech16k)
    finally:
        torch.set_num_threads(threads)


def replace_audio(mp4_in, mp4_out, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``mp4_out``: ``mp4_in``'s video packets copied as they are, ``audio`` as a new AAC track.

    ``audio`` is float (channels, samples), 1 or 2 channels, at ``sample_rate``. Written beside
    ``mp4_out`` and renamed, so no reader sees half a file.
    """
    import av

    from generation import media

    audio = np.ascontiguousarray(np.clip(np.asarray(audio, np.float32), -1.0, 1.0))
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise VoiceError("The audio must have one or two channels.")
    mp4_out = Path(mp4_out)
    partial = mp4_out.with_name(f".{mp4_out.name}.partial")
    try:
        with (
            av.open(str(mp4_in)) as source,
            av.open(str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}) as target,
        ):
            video_in = source.streams.video[0] if source.streams.video else None
            video_out = target.add_stream_from_template(video_in) if video_in is not None else None
            track = media.AacTrack(target, audio, sample_rate)
            if video_in is not None:
                for packet in source.demux(video_in):
                    if packet.dts is None:  # the demuxer's empty flush packet
                        continue
                    packet.stream = video_out
                    target.mux(packet)
            track.finish()
        os.replace(partial, mp4_out)
    finally:
        partial.unlink(missing_ok=True)


_stage_lock = threading.Lock()
_stage: VoiceStage | None = None
_stage_key: tuple | None = None


def get_voice_stage() -> VoiceStage | None:
    """The process's voice stage from the settings, loaded on first call; None for route "none".

    Raises django.core.exceptions.ImproperlyConfigured listing every problem with the settings
    (the system check reports the same ones at startup). Worker processes only: it loads models.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    global _stage, _stage_key
    route = getattr(settings, "VOICE_ROUTE", "none") or "none"
    if route == "none":
        return None
    problems = check_voice_settings(settings)
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
    key = (
        settings.VOICE_DEMUCS_DIR,
        settings.VOICE_DEMUCS_MODEL,
        settings.VOICE_WAVLM_DIR,
        settings.VOICE_VOCODER_PATH,
    )
    with _stage_lock:
        if _stage is None or _stage_key != key:
            _stage = VoiceStage.load(*key)
            _stage_key = key
        return _stage
