"""Video generation engine (LTX-2 via diffusers) behind a small, torch-free import surface.

Importing this package never imports torch or diffusers, so web processes can use the profiles and
the request/progress types. Only :meth:`Engine.load` (called by a worker) pulls in the heavy stack.

    from generation.engine import GenerationRequest, Shot, get_engine
    engine = get_engine(settings.GENERATION_MODEL, "tiny")
    output = engine.generate(GenerationRequest([Shot("a cat", 2)], "portrait", seed=1))
"""

from .capabilities import PROFILES, Capabilities, get_capabilities
from .checkpoints import file_sha256
from .config import EngineSettings
from .pipeline import Engine, get_engine
from .request import GenerationCancelled, GenerationOutput, GenerationRequest, Progress, Shot
from .tiny import MARKER_FILE, build_tiny_model, is_tiny_model
from .tiny_voice import build_tiny_id_lora

__all__ = [
    "MARKER_FILE",
    "PROFILES",
    "Capabilities",
    "Engine",
    "EngineSettings",
    "GenerationCancelled",
    "GenerationOutput",
    "GenerationRequest",
    "Progress",
    "Shot",
    "build_tiny_id_lora",
    "build_tiny_model",
    "file_sha256",
    "get_capabilities",
    "get_engine",
    "is_tiny_model",
]
