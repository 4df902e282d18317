"""Entropy-masked GRPO/DAPO with TRL, on any number of GPUs (or the CPU).

    accelerate launch train/examples/trl_grpo.py --model PATH --output_dir runs/trl \\
        [--data prompts.jsonl] [--template dapo] [--entropy_rho 0.2 --entropy_rule topk ...]
    python train/examples/trl_grpo.py --model PATH --output_dir /tmp/trl --use_cpu --max_steps 2

Every `EntropyMaskedGRPOConfig` / `GRPOConfig` field is a command-line flag (HfArgumentParser),
e.g. `--num_generations 16 --learning_rate 1e-6 --weight_decay 0.1 --max_grad_norm 1.0
--max_completion_length 20480 --loss_normalizer all --entropy_scope global`. The data is the
synthetic arithmetic task (`--synthetic_size`, `--synthetic_difficulty`) or a local jsonl with
`prompt` (or `question`) and `answer` columns; the reward is `tasks.reward` (graded answer).
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
    synthetic_size: int = 256
    synthetic_difficulty: int = 2
    seed_data: int = 0


def build_dataset(args: ScriptArgs) -> Dataset:
    if args.data:
        with open(args.data) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        pairs = [(r.get("prompt", r.get("question")), str(r["answer"])) for r in rows]
    else:
        pairs = [(p.question, p.answer) for p in generate(seed=args.seed_data, size=args.synthetic_size,
                                                           difficulty=args.synthetic_difficulty)]
    template = get_template(args.template)
    prompts = [template.render(q) for q, _ in pairs]
    if args.chat:
        prompts = [[{"role": "user", "content": p}] for p in prompts]
    return Dataset.from_dict({"prompt": prompts, "answer": [a for _, a in pairs]})


def main(argv=None):
    script, config = HfArgumentParser((ScriptArgs, EntropyMaskedGRPOConfig)).parse_args_into_dataclasses(argv)
    trainer = EntropyMaskedGRPOTrainer(model=script.model, reward_funcs=make_trl_reward(mode=script.reward_mode),
                                       args=config, train_dataset=build_dataset(script))
    trainer.train()
    trainer.save_model(config.output_dir)


if __name__ == "__main__":
    main()
