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


# A chat template that branches on a switch, as Qwen3's hybrid models do on `enable_thinking`, and shows a system
# message when there is one.
THINKING = (
    "{% for m in messages %}{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}\n"
    "{% else %}<|user|>{{ m['content'] }}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking is defined and not enable_thinking %}"
    "<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def thinking_ckpt(tmp_path_factory):
    return tiny_bpe.build(tmp_path_factory.mktemp("thinking"), chat_template=THINKING, max_positions=4096)


@pytest.mark.parametrize(
    "switches",
    [
        {"chat_template_kwargs": {"enable_thinking": False}},
        {"system_prompt": "Reason step by step."},
        {"system_prompt": "Be brief.", "chat_template_kwargs": {"enable_thinking": False}},
    ],
)
def test_prompt_switches_reach_eval_and_training_alike(thinking_ckpt, switches, tmp_path):
    from tasks.prompts import PromptSwitches
    from train.config import TrainConfig

    def eval_plan(**kw):
        cfg = EvalConfig(
            ckpt=str(thinking_ckpt), tasks=["aime24"], n=1, budgets=[8], backend="hf", out=str(tmp_path), **kw
        )
        return plan(cfg)

    plain, switched = eval_plan(), eval_plan(**switches)
    ids = {pid: list(i) for (_, pid), (i, _) in switched.prompts.items()}
    assert all(ids[pid] != list(i) for (_, pid), (i, _) in plain.prompts.items())  # the prompts differ
    assert switched.run_id != plain.run_id  # two runs that differ only in the switches are different runs
    from harness.evaluate import manifest

    assert manifest(switched)["prompt_switches"] == PromptSwitches(**switches).record()
    cfg = TrainConfig(**{k: v for k, v in switches.items()})
    cfg.prompt_switches()  # checked like every other key
    items = load_items("aime24", "boxed")
    train_ids = {it.id: rollout.prompt_ids(switched.tokenizer, it.messages, cfg.prompt_switches()) for it in items}
    assert train_ids == ids


def test_prompt_switches_are_checked(tmp_path, capsys):
    from harness.cli import main
    from tasks.errors import TaskError
    from tasks.prompts import PromptSwitches, prompt_ids
    from train.config import ConfigError, load_config

    with pytest.raises(TaskError, match="not JSON"):
        PromptSwitches.parse(None, "{enable_thinking: false")
    with pytest.raises(TaskError, match="JSON object with string keys"):
        PromptSwitches.parse(None, "[1, 2]")
    with pytest.raises(ConfigError, match="chat_template_kwargs: bad value"):
        load_config(None, {"chat_template_kwargs": "[1]"})
    assert load_config(None, {"chat_template_kwargs": '{"enable_thinking": false}'}).chat_template_kwargs == {
        "enable_thinking": False
    }
    base = tiny_bpe.build(tmp_path / "base", chat_template=None)
    from transformers import AutoTokenizer

    with pytest.raises(TaskError, match="need a chat template"):
        prompt_ids(
            AutoTokenizer.from_pretrained(base), [{"role": "user", "content": "hi"}], PromptSwitches(None, {"a": 1})
        )
    flags = ["eval", "--ckpt", str(base), "--backend", "hf", "--out", str(tmp_path / "o"), "--tasks", "aime24"]
    assert main([*flags, "--chat-template-kwargs", "{bad"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert main([*flags, "--chat-template-kwargs", '{"enable_thinking": false}']) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "need a chat template" in err
    assert not (tmp_path / "o" / "runs").exists()
