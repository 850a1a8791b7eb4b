"""kNN-VC: speech in one voice to another by nearest-neighbour matching of WavLM features.

Each 20 ms frame of the source speech becomes the mean of its k nearest frames (cosine) among the
target speaker's enrolment frames, and our HiFi-GAN (:mod:`generation.voice.hifigan`) vocodes the
result. The features are WavLM's layer-6 hidden states, the layer kNN-VC found to carry the most
speaker information. Matching against frames of the target's real speech is what makes the output
sound like them; nothing is trained per speaker.

WavLM loads from a local ``transformers`` directory with ``local_files_only=True``, so a missing
directory is a clear error instead of a hub lookup. Only the first six transformer layers run.

torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

RATE = 16_000
LAYER = 6  # hidden_states[6]: the output of the sixth transformer layer


def _receptive_field(kernels, strides) -> int:
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides, strict=True):
        field += (kernel - 1) * jump
        jump *= stride
    return field


class KnnVC:
    """WavLM (first six layers) + HiFi-GAN, loaded once; calls keep no state between them.

    ``normalize``: WavLM-Large was trained on utterances normalised to zero mean and unit variance;
    :meth:`load` follows the directory's ``preprocessor_config.json`` (``do_normalize``) and
    normalises when there is none.
    """

    def __init__(self, wavlm, vocoder, *, normalize: bool = True, device: str = "cpu"):
        """Wrap a loaded ``transformers`` WavLMModel and a :class:`~generation.voice.hifigan.Generator`.

        Cuts WavLM to its first six layers in place. Raises ValueError when the two don't fit
        together (feature width, frame length, sample rate).
        """
        import torch

        config = wavlm.config
        if config.num_hidden_layers < LAYER or len(wavlm.encoder.layers) < LAYER:
            raise ValueError(f"this WavLM has {config.num_hidden_layers} layers; kNN-VC needs {LAYER}")
        # Layers past the sixth never reach the features: drop them (WavLM-Large has 24).
        wavlm.encoder.layers = wavlm.encoder.layers[:LAYER]
        if config.do_stable_layer_norm:
            # This encoder applies its final LayerNorm to the last layer's output; in the full model
            # hidden_states[6] is taken before it, so the cut model must skip it too.
            wavlm.encoder.layer_norm = torch.nn.Identity()
        self.device = torch.device(device)
        self.wavlm = wavlm.eval().to(self.device)
        self.vocoder = vocoder.eval().to(self.device)
        self.normalize = normalize
        self.hop = math.prod(config.conv_stride)
        self.receptive_field = _receptive_field(config.conv_kernel, config.conv_stride)
        self.dim = config.hidden_size
        vocoder_config = vocoder.config
        if vocoder_config.hubert_dim != self.dim:
            raise ValueError(
                f"the vocoder takes {vocoder_config.hubert_dim}-d features but WavLM makes {self.dim}-d ones"
            )
        if vocoder_config.hop_length != self.hop or vocoder_config.sampling_rate != RATE:
            raise ValueError(
                f"the vocoder makes {vocoder_config.hop_length} samples per frame at "
                f"{vocoder_config.sampling_rate} Hz; WavLM frames are {self.hop} samples at {RATE} Hz"
            )

    @classmethod
    def load(cls, wavlm_dir: str | Path, vocoder_path: str | Path, device: str = "cpu") -> KnnVC:
        """Load WavLM from a local ``transformers`` directory and the vocoder from its checkpoint.

        Raises FileNotFoundError for a missing path and ValueError for models that don't fit, each
        naming the path.
        """
        from transformers import WavLMModel

        from .hifigan import load_vocoder

        wavlm_dir = Path(wavlm_dir)
        if not (wavlm_dir / "config.json").is_file():
            raise FileNotFoundError(f"WavLM directory {wavlm_dir} does not exist or has no config.json")
        wavlm = WavLMModel.from_pretrained(wavlm_dir, local_files_only=True)
        preprocessor = wavlm_dir / "preprocessor_config.json"
        normalize = True
        if preprocessor.is_file():
            normalize = bool(json.loads(preprocessor.read_text()).get("do_normalize", True))
        vocoder = load_vocoder(vocoder_path)
        try:
            return cls(wavlm, vocoder, normalize=normalize, device=device)
        except ValueError as error:
            raise ValueError(f"WavLM {wavlm_dir} and vocoder {vocoder_path}: {error}") from error

    def features(self, speech16k: np.ndarray):
        """Layer-6 features, float32 tensor (frames, dim), one frame per ``hop`` samples (20 ms).

        Frame i is centred on samples [i * hop, (i + 1) * hop): the input is padded by half the
        receptive field's excess on the left and to a whole frame on the right, so there are
        ceil(n / hop) frames and the vocoded output lines up with the input sample for sample.
        """
        import torch

        wav = torch.as_tensor(np.asarray(speech16k, np.float32)).flatten()
        length = wav.shape[0]
        if length == 0:
            return torch.zeros((0, self.dim))
        if self.normalize:
            wav = (wav - wav.mean()) / torch.sqrt(wav.var(unbiased=False) + 1e-5)
        frames = math.ceil(length / self.hop)
        left = (self.receptive_field - self.hop) // 2
        total = (frames - 1) * self.hop + self.receptive_field
        wav = torch.nn.functional.pad(wav, (left, total - length - left))
        with torch.inference_mode():
            out = self.wavlm(wav[None].to(self.device), output_hidden_states=True)
        return out.hidden_states[LAYER][0, :frames].float().cpu()

    def enrol(self, speech16k: np.ndarray) -> np.ndarray:
        """The matching set for a speaker: float32 (frames, dim) features of their speech.

        Pass speech only (silences trimmed): every frame becomes a candidate for matching, and a
        silent frame would be matched by the source's pauses and by nothing else. Deterministic.
        """
        return self.features(speech16k).numpy().astype(np.float32)

    def convert(self, speech16k: np.ndarray, matching_set: np.ndarray, k: int = 4) -> np.ndarray:
        """``speech16k`` (mono float, 16 kHz) in the matching set's voice: float32, same length.

        Each query frame is replaced by the mean of its ``k`` nearest matching frames by cosine
        distance, then vocoded. Loudness is whatever the vocoder makes; the caller levels it.
        Cost: WavLM (6 layers) + a (frames x matching frames) similarity + the vocoder.
        """
        speech = np.asarray(speech16k, np.float32).flatten()
        matching = self._matching_tensor(matching_set)
        if len(speech) == 0:
            return speech.copy()
        return self.match_and_vocode(self.features(speech), matching, k)[: len(speech)]

    def _matching_tensor(self, matching_set: np.ndarray):
        import torch

        matching = torch.as_tensor(np.asarray(matching_set, np.float32))
        if matching.ndim != 2 or matching.shape[0] == 0:
            raise ValueError("the matching set is empty: enrol the speaker's voice first")
        if matching.shape[1] != self.dim:
            raise ValueError(
                f"the matching set has {matching.shape[1]}-d features; this WavLM makes {self.dim}-d"
            )
        return matching

    def match_and_vocode(self, query, matching_set, k: int = 4) -> np.ndarray:
        """kNN regression of ``query`` (frames, dim) onto the matching set, vocoded: frames x hop samples."""
        import torch

        matching = self._matching_tensor(matching_set)
        k = max(1, min(k, matching.shape[0]))
        similarity = (
            torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(matching, dim=1).T
        )
        matched = matching[similarity.topk(k, dim=1).indices].mean(dim=1)
        with torch.inference_mode():
            wav = self.vocoder(matched[None].to(self.device))[0]
        return wav.float().cpu().numpy().astype(np.float32)
