"""The two records every other package passes around."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: str  # gold answer as text; AIME answers are normalised integers ("25", never "025")
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Task:
    name: str
    problems: list[Problem]
    source: str  # where the rows came from: a path, or "hub:<id>@<revision>", or "generated:<params>"
    kind: str = "integer"  # "integer" (0-999, AIME) or "free" (any answer the checker reads); tasks.registry.KINDS

    @property
    def content_hash(self) -> str:
        """Identifies the exact problems (ids, text, answers), whatever file or hub copy they came from."""
        payload = json.dumps([[p.id, p.question, p.answer] for p in self.problems], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.problems)
