"""Prompt templates as named data, so every result row can record exactly which words the model saw.

A template renders the *user message* only; the chat template of the checkpoint is applied by the
backends (and by the trainer), never here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tasks.errors import TaskError


@dataclass(frozen=True)
class Template:
    name: str
    text: str  # contains exactly one "{question}"
    # what a forced answer starts with (`harness eval --force-answer`): the final-answer form the prompt asks for
    answer_prefix: str = "\n\n**Final Answer**\n\\boxed{"

    def render(self, question: str) -> str:
        return self.text.replace("{question}", question)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in [
        # The common open-weights convention (Qwen, DeepSeek-R1 evaluations).
        Template("boxed", "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{}."),
        # The DAPO / "Beyond the 80/20 Rule" training prompt: the last line carries "Answer: $Answer".
        Template(
            "dapo",
            "Solve the following math problem step by step. The last line of your response should be of the form "
            "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n{question}\n\n"
            'Remember to put your answer on its own line after "Answer:".',
            answer_prefix="\nAnswer:",
        ),
        # Short worked steps for small models on the synthetic task (the CPU study, results/study_cpu/): one
        # worked example shows the step format and the final "Answer: N" line the checker reads.
        Template(
            "steps",
            "Solve the problem in short steps: one operation per line, each line saying in words what it does, "
            "then a last line of the form Answer: N.\n\nExample: Compute (7 + 5) * 2. Give the result as an integer.\n"
            "First add 5 to 7: 7 + 5 = 12.\nThen multiply 12 by 2: 12 * 2 = 24.\nAnswer: 24\n\nNow: {question}",
            answer_prefix="\nAnswer:",
        ),
        # No instruction at all, for base models prompted with the raw problem.
        Template("plain", "{question}"),
    ]
}


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TaskError(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}") from None
