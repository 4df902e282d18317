"""Entropy-masked GRPO/DAPO with TRL, on any number of GPUs (or the CPU).

    accelerate launch train/examples/trl_grpo.py --model PATH --output_dir runs/trl \\
        [--data prompts.jsonl] [--template dapo] [--entropy_rho 0.2 --entropy_rule topk ...]
    python train/examples/trl_grpo.py --model PATH --output_dir /tmp/trl --use_cpu --max_steps 2
    accelerate launch --multi_gpu --num_processes 2 train/examples/trl_grpo.py ... --use_cpu  # gloo

(On the CPU, `accelerate launch --cpu --num_processes 2` starts ONE process unless given an MPI
hostfile; `--multi_gpu ... --use_cpu` starts torch.distributed ranks that run on the CPU.)

Every `EntropyMaskedGRPOConfig` / `GRPOConfig` field is a command-line flag (HfArgumentParser),
e.g. `--num_generations 16 --learning_rate 1e-6 --weight_decay 0.1 --max_grad_norm 1.0
--max_completion_length 20480 --loss_normalizer all --entropy_scope global`. The data is the
synthetic arithmetic task (`--synthetic_size`, `--synthetic_difficulty`) or a local jsonl with
`prompt` (or `question`) and `answer` columns; the reward is `tasks.reward` (graded answer), plus
DAPO's overlong penalty with `--overlong_buffer N`. The model and `trainer_state.json` (log history,
including the `entropy_mask/*` metrics) are written to `--output_dir` by the main process.
"""

import json
from dataclasses import dataclass, field

from datasets import Dataset
from transformers import HfArgumentParser

from tasks.reward import make_trl_reward
from tasks.synthetic import generate
from tasks.templates import get_template
from train.integrations.trl import EntropyMaskedGRPOConfig, EntropyMaskedGRPOTrainer


@dataclass
class ScriptArgs:
    model: str = field(metadata={"help": "Local path or hub id of the policy checkpoint."})
    data: str | None = field(default=None, metadata={"help": "jsonl with prompt/question and answer."})
    template: str = field(default="dapo", metadata={"help": "tasks.templates name ('dapo', 'boxed', 'plain')."})
    chat: bool = field(default=False, metadata={"help": "Send prompts as chat messages (instruct models)."})
    reward_mode: str = field(default="binary", metadata={"help": "tasks.reward mode ('pm1' for the paper: ±1)."})
    overlong_buffer: int = field(
        default=0,
        metadata={"help": "DAPO's overlong penalty over the last N tokens before --max_completion_length (0: off)."},
    )
    synthetic_size: int = 256
    synthetic_difficulty: int = 2
    seed_data: int = 0


def build_dataset(args: ScriptArgs) -> Dataset:
    if args.data:
        with open(args.data) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        pairs = [(r.get("prompt", r.get("question")), str(r["answer"])) for r in rows]
    else:
        pairs = [
            (p.question, p.answer)
            for p in generate(seed=args.seed_data, size=args.synthetic_size, difficulty=args.synthetic_difficulty)
        ]
    template = get_template(args.template)
    prompts = [template.render(q) for q, _ in pairs]
    if args.chat:
        prompts = [[{"role": "user", "content": p}] for p in prompts]
    return Dataset.from_dict({"prompt": prompts, "answer": [a for _, a in pairs]})


def main(argv=None):
    script, config = HfArgumentParser((ScriptArgs, EntropyMaskedGRPOConfig)).parse_args_into_dataclasses(argv)
    overlong = (config.max_completion_length, script.overlong_buffer) if script.overlong_buffer else None
    reward = make_trl_reward(mode=script.reward_mode, overlong=overlong)
    trainer = EntropyMaskedGRPOTrainer(
        model=script.model, reward_funcs=reward, args=config, train_dataset=build_dataset(script)
    )
    trainer.train()
    trainer.save_model(config.output_dir)  # the main process writes; every rank must call it
    trainer.save_state()  # trainer_state.json (log history with the entropy_mask/* metrics), main process


if __name__ == "__main__":
    main()
