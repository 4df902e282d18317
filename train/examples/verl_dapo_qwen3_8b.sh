#!/usr/bin/env bash
# Wang et al. 2025 (arXiv 2506.01939) on verl 0.9 + Ray, multi-node: Qwen3-8B base, DAPO, top-20 % entropy mask.
#
# The numbers are the paper's (DESIGN.md "Reference facts"; train/configs/qwen3-8b-paper.yaml): 512 prompts x 16
# responses per step, mini-batches of 32 prompts, lr 1e-6 constant after 10 warm-up steps, weight decay 0.1, grad
# clip 1.0, prompt 2048 / response 20480 tokens, clip 0.2/0.28, dual clip 10, no KL, dynamic sampling, overlong
# shaping over the last 4096 tokens, reward +1/-1 from tasks.reward.compute_score, ρ = 0.2 (exact top-k per
# micro-batch, mean over the selected tokens: the authors' code).
#
# Every node: the same Python environment with verl 0.9.x (with its vLLM extra) and this package installed
# (`pip install -e '.[verl]'` in the same place on every node: the entropy-masked loss reaches verl's Ray workers
# as a verl plugin, and the reward function is loaded by file path).
# Head node:   ray start --head --port=6379          Other nodes:   ray start --address=<head-ip>:6379
# Then, on the head node:   NNODES=4 bash train/examples/verl_dapo_qwen3_8b.sh [more Hydra overrides]
# PRINT_OVERRIDES=1 prints the Hydra overrides and exits (the tests compose them with verl's own config).
# Checked against verl 0.9.1's config schema on CPU; not yet run on GPUs.
set -euo pipefail

MODEL=${MODEL:-$HOME/models/Qwen3-8B-Base}
DATA_DIR=${DATA_DIR:-$HOME/data/rlvr}
TRAIN_SOURCE=${TRAIN_SOURCE:-hub:BytedTsinghua-SIA/DAPO-Math-17k}   # or a local copy of its parquet
TRAIN_FILE=${TRAIN_FILE:-$DATA_DIR/dapo-math-17k.dedup.parquet}
VAL_FILE=${VAL_FILE:-$DATA_DIR/aime24.dapo.parquet}
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
SP=${SP:-4}                  # Ulysses sequence parallelism for 22k-token sequences
ROLLOUT_TP=${ROLLOUT_TP:-2}
PROJECT=${PROJECT:-rlvr-harness}
NAME=${NAME:-qwen3-8b-dapo-top20}
OUT=${OUT:-$PWD/runs/verl/$NAME}

MAX_PROMPT=2048
MAX_RESPONSE=20480
OVERLONG=4096
ACTOR_TOKENS=$((MAX_PROMPT + MAX_RESPONSE))      # one full-length sequence per micro-batch per GPU (x SP)
INFER_TOKENS=$((3 * ACTOR_TOKENS))
REWARD_PY=$(python3 -c 'import tasks.reward as r; print(r.__file__)')
PL=actor_rollout_ref.actor.policy_loss

OVERRIDES=(
    # Data: DAPO-Math-17k deduplicated (the published file repeats each prompt many times); AIME'24 for validation.
    data.train_files="$TRAIN_FILE"
    data.val_files="$VAL_FILE"
    data.prompt_key=prompt
    data.max_prompt_length=$MAX_PROMPT
    data.max_response_length=$MAX_RESPONSE
    data.train_batch_size=512
    data.filter_overlong_prompts=True
    data.truncation=error
    # GRPO advantages, no KL anywhere, dynamic sampling (drop groups whose rewards are all equal).
    algorithm.adv_estimator=grpo
    algorithm.use_kl_in_reward=False
    algorithm.filter_groups.enable=True
    algorithm.filter_groups.metric=acc
    # Model and optimiser.
    actor_rollout_ref.model.path="$MODEL"
    actor_rollout_ref.model.use_remove_padding=True
    actor_rollout_ref.model.enable_gradient_checkpointing=True
    actor_rollout_ref.actor.optim.lr=1e-6
    actor_rollout_ref.actor.optim.lr_warmup_steps=10
    actor_rollout_ref.actor.optim.lr_scheduler_type=constant
    actor_rollout_ref.actor.optim.weight_decay=0.1
    actor_rollout_ref.actor.optim.clip_grad=1.0
    actor_rollout_ref.actor.ppo_mini_batch_size=32
    actor_rollout_ref.actor.ppo_epochs=1
    actor_rollout_ref.actor.use_dynamic_bsz=True
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$ACTOR_TOKENS
    actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=$INFER_TOKENS
    actor_rollout_ref.actor.ulysses_sequence_parallel_size=$SP
    actor_rollout_ref.actor.entropy_checkpointing=True
    actor_rollout_ref.actor.fsdp_config.param_offload=False
    actor_rollout_ref.actor.fsdp_config.optimizer_offload=False
    # DAPO clipping (verl's own keys, read by our loss): ε_low 0.2, ε_high 0.28, dual clip c = 10; no KL loss.
    actor_rollout_ref.actor.clip_ratio_low=0.2
    actor_rollout_ref.actor.clip_ratio_high=0.28
    actor_rollout_ref.actor.clip_ratio_c=10.0
    actor_rollout_ref.actor.use_kl_loss=False
    actor_rollout_ref.actor.kl_loss_coef=0.0
    actor_rollout_ref.actor.entropy_coeff=0
    actor_rollout_ref.actor.loss_agg_mode=token-mean
    # The entropy-masked loss (train/integrations/verl.py): needs the per-token entropy from the actor's forward.
    actor_rollout_ref.actor.calculate_entropy=True
    $PL._target_=train.integrations.verl.EntropyMaskedPolicyLossConfig
    $PL.loss_mode=entropy_masked
    +$PL.entropy_rho=0.2
    +$PL.entropy_rule=topk
    +$PL.entropy_scope=micro
    +$PL.entropy_invert=False
    +$PL.loss_normalizer=selected
    # Rollout: vLLM, temperature 1.0 (the entropy is taken at the same temperature); AIME'24 avg@32 at
    # temperature 1.0, top-p 0.7 (the authors' evaluation).
    actor_rollout_ref.rollout.name=vllm
    actor_rollout_ref.rollout.n=16
    actor_rollout_ref.rollout.temperature=1.0
    actor_rollout_ref.rollout.top_p=1.0
    actor_rollout_ref.rollout.top_k=-1
    actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TP
    actor_rollout_ref.rollout.gpu_memory_utilization=0.7
    actor_rollout_ref.rollout.max_num_batched_tokens=$ACTOR_TOKENS
    actor_rollout_ref.rollout.val_kwargs.do_sample=True
    actor_rollout_ref.rollout.val_kwargs.n=32
    actor_rollout_ref.rollout.val_kwargs.temperature=1.0
    actor_rollout_ref.rollout.val_kwargs.top_p=0.7
    # Reward: our checker (the one `harness eval` scores with), +1/-1, plus DAPO's overlong shaping.
    reward.custom_reward_function.path="$REWARD_PY"
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.mode=pm1
    reward.reward_manager.name=dapo
    +reward.reward_kwargs.max_resp_len=$MAX_RESPONSE
    +reward.reward_kwargs.overlong_buffer_cfg.enable=True
    +reward.reward_kwargs.overlong_buffer_cfg.len=$OVERLONG
    +reward.reward_kwargs.overlong_buffer_cfg.penalty_factor=1.0
    +reward.reward_kwargs.overlong_buffer_cfg.log=False
    # Run.
    trainer.nnodes=$NNODES
    trainer.n_gpus_per_node=$GPUS_PER_NODE
    trainer.total_training_steps=1000
    trainer.save_freq=20
    trainer.test_freq=20
    trainer.val_before_train=True
    trainer.project_name="$PROJECT"
    trainer.experiment_name="$NAME"
    trainer.default_local_dir="$OUT"
    'trainer.logger=[console,wandb]'
)

if [[ -n ${PRINT_OVERRIDES:-} ]]; then
    printf '%s\n' "${OVERRIDES[@]}"
    exit 0
fi

mkdir -p "$DATA_DIR"
here=$(dirname "$0")
[[ -f $TRAIN_FILE ]] || python3 "$here/verl_data.py" --source "$TRAIN_SOURCE" --out "$TRAIN_FILE"
[[ -f $VAL_FILE ]] || python3 "$here/verl_data.py" --source aime24 --out "$VAL_FILE"

exec python3 -m verl.trainer.main_ppo "${OVERRIDES[@]}" "$@"
