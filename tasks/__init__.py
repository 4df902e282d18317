"""Benchmark and reward definitions shared by evaluation and training. Imports nothing else of ours, and no torch."""

from tasks.errors import TaskError
from tasks.grading import Grade, grade
from tasks.loading import load, split_names
from tasks.registry import TaskSpec, register, register_yaml
from tasks.templates import TEMPLATES, Template, get_template
from tasks.types import Problem, Task

__all__ = [
    "Grade",
    "Problem",
    "TEMPLATES",
    "Task",
    "TaskError",
    "TaskSpec",
    "Template",
    "get_template",
    "grade",
    "load",
    "register",
    "register_yaml",
    "split_names",
]
