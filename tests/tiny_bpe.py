"""A tiny random Llama with a byte-level BPE tokenizer trained on task questions, built and saved by the tests.

Unlike tests/train_tiny.py (a digit vocabulary for training steps), this tokenizer reads real AIME text and
carries a chat template, so `harness eval` and `harness entropy` run on it through the code users run.
"""

from __future__ import annotations

from pathlib import Path

import tasks

CHAT = "{% for m in messages %}<|user|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


def build(
    out: Path,
    *,
    seed: int = 0,
    corpus_tasks=("aime24", "aime25"),
    vocab_size: int = 300,
    intermediate_size: int = 96,
    max_positions: int = 1024,
    chat_template: str = CHAT,
    adjust=None,
) -> Path:
    """Save tokenizer and model to `out`; `adjust(model, tokenizer)` may edit weights before saving."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [p.question for name in corpus_tasks for p in tasks.load(name).problems]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<|end|>", "<|user|>", "<|assistant|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>", pad_token="<|end|>")
    fast.chat_template = chat_template
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=intermediate_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    if adjust is not None:
        with torch.no_grad():
            adjust(model, fast)
    model.save_pretrained(out)
    return out
