"""`harness.stored_prompts`: a stored sample's prompt rebuilt under the run's own rule reproduces the prompt ids
the run sent, for a run made with a system prompt and chat template switches; `harness entropy` and
`harness view` read it through the same lookup."""

from __future__ import annotations

import json

import pytest

import tasks
from harness import store
from harness.backends import hf
from harness.cli import main
from harness.entropy import measure
from harness.stored_prompts import StoredPrompts
from harness.view import data
from tests import tiny_bpe

# The tiny chat template, with roles and Qwen3's thinking switch: a system message and enable_thinking=false
# both change the ids.
CHAT = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
SYSTEM = "You are a careful mathematician."
SWITCHES = {"enable_thinking": False}


@pytest.fixture(scope="module")
def switched_run(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir sets HARNESS_DATA_DIR)
    """A `harness eval` run (hf backend) with --system-prompt and --chat-template-kwargs; the prompt ids the
    sampler was handed, by (task, problem)."""
    root = tmp_path_factory.mktemp("stored-prompts")
    ckpt = tiny_bpe.build(root / "ckpt", chat_template=CHAT)
    sent: dict[tuple[str, str], tuple[int, ...]] = {}
    original = hf.HFSampler.sample

    def recording(self, requests, params):
        for r in requests:
            sent[r.key[:2]] = tuple(r.prompt_ids)
        yield from original(self, requests, params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf.HFSampler, "sample", recording)
        argv = ["eval", "--ckpt", str(ckpt), "--backend", "hf", "--out", str(root / "out"), "--tasks", "aime24"]
        argv += ["--limit", "2", "--n", "2", "--max-tokens", "12", "--temperature", "0.8", "--no-progress"]
        argv += ["--no-leaderboard", "--system-prompt", SYSTEM, "--chat-template-kwargs", json.dumps(SWITCHES)]
        assert main(argv) == 0
    (run_dir,) = (root / "out" / "runs").iterdir()
    return {"ckpt": ckpt, "out": root / "out", "run_dir": run_dir, "sent": sent}


def test_lookup_reproduces_the_prompt_ids_the_run_sent(switched_run):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(switched_run["ckpt"]))
    manifest = store.read_manifest(switched_run["run_dir"])
    rows = measure.load_samples(run_dir=switched_run["run_dir"]).to_pylist()
    assert len(switched_run["sent"]) == 2 and len(rows) == 4
    lookup = StoredPrompts(manifest)
    for row in rows:
        ids = lookup.ids(row, tok)
        assert ids == switched_run["sent"][(row["task"], row["problem_id"])]
        assert len(ids) == row["prompt_tokens"]
        p = lookup.prompt(row)
        assert p.messages[0] == {"role": "system", "content": SYSTEM} and p.switches.chat_template_kwargs == SWITCHES
        assert p.text.startswith(f"[system]\n{SYSTEM}\n\n[user]\n") and p.text.endswith(p.user_message)
        # Without the run's switches (the rule `harness entropy` used before) the ids are not the run's.
        question = {q.id: q.question for q in tasks.load("aime24").problems}[row["problem_id"]]
        bare = StoredPrompts().prompt(row).ids(tok)
        assert bare != ids and p.user_message == tasks.get_template(row["template"]).render(question)


def test_a_mismatched_prompt_is_one_line(switched_run):
    """Rows whose stored prompt length is not the rebuilt one (here: the run's switches left out) are refused."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(switched_run["ckpt"]))
    row = measure.load_samples(run_dir=switched_run["run_dir"]).to_pylist()[0]
    with pytest.raises(Exception, match="the rebuilt prompt has"):
        StoredPrompts().ids(row, tok)
    with pytest.raises(Exception, match="content hash"):
        StoredPrompts(store.read_manifest(switched_run["run_dir"])).ids({**row, "task_hash": "0" * 16}, tok)


def test_entropy_measures_a_run_made_with_prompt_switches(switched_run, tmp_path, capsys):
    dest = tmp_path / "an"
    argv = ["entropy", "--run", str(switched_run["run_dir"]), "--out", str(dest), "--no-progress", "--no-plot"]
    assert main(argv + ["--dtype", "float32"]) == 0, capsys.readouterr().err
    assert "tokens from 4 samples" in capsys.readouterr().out
    assert (dest / "tokens.parquet").is_file()


def test_view_shows_the_prompt_the_run_sent(switched_run):
    r = data.load(switched_run["out"])
    row = measure.load_samples(run_dir=switched_run["run_dir"]).to_pylist()[0]
    s = data.sample_detail(r, switched_run["run_dir"].name, "aime24", row["problem_id"], row["sample_idx"])
    expected = StoredPrompts(store.read_manifest(switched_run["run_dir"])).prompt(row)
    assert s["prompt"] == expected.text and SYSTEM in s["prompt"]
    assert any("enable_thinking" in n for n in s["notes"]), s["notes"]
