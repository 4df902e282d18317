"""Eval and training build the same prompt ids and stop at the same tokens (one rule: tasks/prompts.py).

The eval side is `harness.evaluate.plan` (what every eval backend is fed); the training side is
`train.data.load_items` + `train.rollout.prompt_ids` (what the trainer's rollout backends are fed).
"""

import pytest

from harness.evaluate import EvalConfig, plan
from tasks.templates import TEMPLATES
from tests import tiny_bpe
from train import rollout
from train.data import load_items

TASKS = ("aime24", "aime25", "synthetic:difficulty=2,size=20,seed=3")


@pytest.fixture(scope="module", params=["chat", "base"])
def ckpt(request, tmp_path_factory):
    template = tiny_bpe.CHAT if request.param == "chat" else None
    return tiny_bpe.build(tmp_path_factory.mktemp(request.param), chat_template=template, max_positions=4096)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("task", TASKS)
def test_eval_and_train_prompt_ids_agree(ckpt, task, template, tmp_path):
    p = plan(
        EvalConfig(ckpt=str(ckpt), tasks=[task], n=1, budgets=[8], template=template, backend="hf", out=str(tmp_path))
    )
    eval_ids = {pid: list(ids) for (_, pid), (ids, _) in p.prompts.items()}
    items = load_items(task, template)
    train_ids = {it.id: rollout.prompt_ids(p.tokenizer, it.messages) for it in items}
    assert eval_ids == train_ids and len(eval_ids) == len(items) > 0


def test_eval_and_train_stop_at_the_same_tokens(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.backends.hf import HFSampler

    path = tiny_bpe.build(tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.generation_config.eos_token_id = [tok.eos_token_id, tok.convert_tokens_to_ids("<|user|>")]
    model.generation_config.save_pretrained(path)
    assert (
        set(rollout.eos_ids(model, tok))
        == HFSampler(str(path), tok).eos_ids
        == set(model.generation_config.eos_token_id)
    )
