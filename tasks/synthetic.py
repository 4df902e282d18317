"""A seeded multi-step arithmetic task with exact integer answers.

It exists so that smoke runs, tests and CPU training demos work offline and can be made as easy or as
hard as a small model needs: `difficulty` is the number of operations after the first number. `size` is
at most `MAX_SIZE` problems: the list is built in memory (about 1 KB a problem with its prompt and record
downstream), so a mistyped size is refused in one line instead of filling the machine.
"""

from __future__ import annotations

import random

from tasks.types import Problem

MAX_SIZE = 100_000  # problems per synthetic task; far more than a CPU demo or a smoke run uses


def generate(*, seed: int = 0, size: int = 64, difficulty: int = 2) -> list[Problem]:
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE} (got {size})")
    if not 1 <= difficulty <= 8:
        raise ValueError("difficulty must be between 1 and 8")
    rng = random.Random(f"synthetic:{seed}:{difficulty}")
    problems = []
    for i in range(size):
        expr, value = _expression(rng, difficulty)
        question = f"Compute {expr}. Give the result as an integer."
        problems.append(
            Problem(f"synthetic-d{difficulty}-s{seed}-{i}", question, str(value), {"difficulty": difficulty})
        )
    return problems


def _expression(rng: random.Random, steps: int) -> tuple[str, int]:
    """Left-to-right chain with explicit brackets; every intermediate value stays in 0..999."""
    value = rng.randint(2, 20 * steps)
    expr = str(value)
    for step in range(steps):
        ops = (["+"] if value <= 998 else []) + (["-"] if value >= 2 else []) + (["*"] if value <= 99 else [])
        op = rng.choice(ops)
        if op == "+":
            operand = rng.randint(1, min(99, 999 - value))
            value += operand
        elif op == "-":
            operand = rng.randint(1, min(99, value - 1))
            value -= operand
        else:
            operand = rng.randint(2, 9)  # value <= 99, so the product stays <= 891
            value *= operand
        expr = f"({expr} {op} {operand})" if step < steps - 1 else f"{expr} {op} {operand}"
    return expr, value
