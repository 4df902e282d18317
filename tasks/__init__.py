"""Benchmark and reward definitions shared by evaluation and training. Imports nothing else of ours, and no torch."""

from tasks.errors import TaskError
from tasks.grading import Grade, grade
from tasks.loading import load, split_names
from tasks.types import Problem, Task
from tasks.templates import TEMPLATES, Template, get_template

__all__ = ["Grade", "Problem", "TEMPLATES", "Task", "TaskError", "Template", "get_template", "grade", "load", "split_names"]
