"""Running each prompt once per group changes nothing but the cost: same log-probs, entropies, gradients
and sampled tokens as running every row in full, on left-padded prompts of unequal length."""

import pytest
import torch

from tests.train_tiny import config_kwargs
from train import rollout
from train.logprobs import prompt_groups, sharing_pays, token_logprobs


def _model(arch: str):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    kw = config_kwargs(
        vocab_size=50, hidden_size=32, intermediate_size=64, num_attention_heads=4, max_position_embeddings=256
    )
    if arch == "qwen3":
        return Qwen3ForCausalLM(Qwen3Config(head_dim=8, **kw)).float()
    return LlamaForCausalLM(LlamaConfig(**kw)).float()


def _batch(G=3, R=7):
    """Three prompts of lengths 5, 9, 4 (left-padded to 9), G responses each, with EOS at varied places."""
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(2, 50, (n,), generator=g).tolist() for n in (5, 9, 4)]
    ids, att = rollout.left_pad([p for p in prompts for _ in range(G)], pad=0)
    resp = torch.randint(2, 50, (len(ids), R), generator=g)
    lengths = torch.randint(1, R + 1, (len(ids),), generator=g)
    mask = torch.arange(R)[None] < lengths[:, None]
    resp = torch.where(mask, resp, 0)
    return (
        torch.cat([ids, resp], 1),
        torch.cat([att, mask.long()], 1),
        ids.shape[1],
        torch.where(mask, resp, -100),
        mask,
    )


def _run(model, rows, share):
    ids, att, P, labels, mask = _batch()
    model.zero_grad(set_to_none=True)
    lp, ent = token_logprobs(model, ids[rows], att[rows], P, labels[rows], 0.9, prompt_sharing=0.0 if share else 1.0)
    m = mask[rows]
    ((lp * m).sum() + 0.1 * (ent * m).sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return lp.detach()[m], ent.detach()[m], grads


def test_prompt_groups_finds_runs_of_equal_prompts():
    ids, att, P, _, _ = _batch()
    which, first = prompt_groups(ids, att, P)
    assert which.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert first.tolist() == [0, 3, 6]


def _decoder_tokens(model, fn):
    """How many tokens went through the decoder's embedding during fn()."""
    seen = []
    h = model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(i[0].numel()))
    try:
        fn()
    finally:
        h.remove()
    return sum(seen)


@pytest.mark.parametrize("threshold,shared", [(0.0, True), (0.2, True), (0.7, False), (1.0, False)])
def test_prompts_run_once_per_group_when_the_saving_passes_the_threshold(threshold, shared):
    model = _model("llama").train()
    ids, att, P, labels, _ = _batch()  # 9 rows, 3 prompts of width 9, responses of 7: saving 6*9/(9*16) = 0.375
    n = _decoder_tokens(model, lambda: token_logprobs(model, ids, att, P, labels, 1.0, prompt_sharing=threshold))
    assert n == (3 * P + 9 * 7 if shared else 9 * (P + 7))


def test_sharing_pays():
    assert sharing_pays(32, 4, 69, 32, 0.2)  # the CPU benchmark: 60 % of the tokens saved
    assert not sharing_pays(16, 2, 25, 512, 0.2)  # the GPU benchmark: 4 %
    assert not sharing_pays(8, 8, 100, 10, 0.0)  # nothing repeats


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize(
    "rows", [slice(0, 9), slice(1, 8), [0, 1, 3, 4, 0]], ids=["whole-groups", "cut-groups", "prompt-recurs"]
)
def test_shared_prompts_give_the_same_logprobs_entropy_and_gradients(arch, rows):
    model = _model(arch).train()
    lp_s, ent_s, g_s = _run(model, rows, share=True)
    lp_f, ent_f, g_f = _run(model, rows, share=False)
    torch.testing.assert_close(lp_s, lp_f, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent_s, ent_f, atol=1e-5, rtol=1e-5)
    assert g_s.keys() == g_f.keys() and len(g_f) == len(list(model.parameters()))
    for n in g_f:
        torch.testing.assert_close(g_s[n], g_f[n], atol=1e-6, rtol=1e-4, msg=n)


def test_rows_whose_prompts_differ_by_one_token_are_not_merged():
    """Otherwise row 1 would silently be scored under row 0's prompt."""
    model = _model("llama").train()
    ids, att, P, labels, mask = _batch()
    ids2 = ids.clone()
    ids2[1, P - 2] = (ids2[1, P - 2] + 1) % 48 + 2  # row 1's prompt differs from row 0's
    lp_s, _ = token_logprobs(model, ids2[:3], att[:3], P, labels[:3], 1.0, prompt_sharing=0.0)
    lp_f, _ = token_logprobs(model, ids[:3], att[:3], P, labels[:3], 1.0, prompt_sharing=0.0)
    assert not torch.allclose(lp_s[1][mask[1]], lp_f[1][mask[1]])
    torch.testing.assert_close(lp_s[0][mask[0]], lp_f[0][mask[0]])


def test_generate_with_shared_prefill_samples_the_same_tokens(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.train_tiny import build

    path = build(tmp_path / "tiny")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    prompts = [tok(t)["input_ids"] for t in ("12+34=", "7*8-1=", "5=")]
    kw = dict(group_size=4, max_new_tokens=12, temperature=1.0, top_p=1.0, seed=5)
    outs, tokens = [], []
    for share, bs in ((True, 12), (False, 12), (True, 5)):
        tokens.append(
            _decoder_tokens(
                model,
                lambda: outs.append(
                    rollout.generate(
                        model,
                        tok,
                        prompts,
                        ["46", "55", "5"],
                        batch_size=bs,
                        prompt_sharing=0.0 if share else 1.0,
                        **kw,
                    )
                ),
            )
        )
    P = outs[0].prompt_width
    assert tokens[1] - tokens[0] == (12 - 3) * (P - 1)  # the prefill ran once per prompt, not once per row
    assert torch.equal(outs[0].input_ids, outs[1].input_ids)
    assert torch.equal(outs[0].response_mask, outs[1].response_mask)
    assert outs[0].texts == outs[1].texts
    assert outs[2].input_ids.shape[0] == 12  # chunks cutting through groups still work


def test_mixed_precision_runs_the_decoder_in_bf16_and_keeps_fp32_outputs_and_gradients():
    model = _model("llama").train()
    ids, att, P, labels, mask = _batch()
    out = {}
    for mp in ("", "bfloat16"):
        model.zero_grad(set_to_none=True)
        dtypes = []
        hook = model.model.layers[0].mlp.up_proj.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
        lp, ent = token_logprobs(model, ids, att, P, labels, 1.0, prompt_sharing=0.0, mixed_precision=mp)
        hook.remove()
        (lp * mask).sum().backward()
        grad = model.model.layers[0].mlp.up_proj.weight.grad
        out[mp] = (lp.detach()[mask], ent.detach()[mask], grad.clone(), set(dtypes))
        assert lp.dtype == ent.dtype == torch.float32 and grad.dtype == torch.float32
    assert out[""][3] == {torch.float32} and out["bfloat16"][3] == {torch.bfloat16}
    torch.testing.assert_close(out["bfloat16"][0], out[""][0], atol=0.05, rtol=0.02)  # bf16 rounding only
    torch.testing.assert_close(out["bfloat16"][1], out[""][1], atol=0.05, rtol=0.02)
    cos = torch.nn.functional.cosine_similarity(out["bfloat16"][2].flatten(), out[""][2].flatten(), dim=0)
    assert cos > 0.99
