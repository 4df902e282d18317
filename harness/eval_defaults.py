"""`harness eval`'s defaults and the bootstrap behind every interval, stated once: `EvalConfig` (harness/evaluate.py), the command's flags, benchmarks and
the docs read them from here.

They are the community's settings for AIME with long chains of thought (docs/DESIGN.md, "Reference facts"):
T = 0.6, top-p 0.95, n = 16 samples per problem, and the paper's two budgets, 20k and 29k tokens (Wang et al.,
arXiv 2506.01939: 20480 new tokens, 29696 for the extended 32B run). Stdlib only, so `harness --help` can show
them without loading the evaluation.
"""

TASKS = ("aime24", "aime25")  # the benchmarks a bare `harness eval --ckpt PATH` runs
N = 16  # samples per problem
TEMPERATURE = 0.6
TOP_P = 0.95
BUDGETS = (20480, 29696)  # token budgets: generated once at the largest, the smaller scored by cutting
TEMPLATE = "boxed"  # prompt template (tasks.templates.TEMPLATES)

# Every bootstrap interval of the harness (leaderboard CIs, `harness compare`, the study's claims, `harness view`):
# 10,000 resamples of the problems from a fixed seed, a 95 % percentile interval (harness.metrics uses them).
BOOTSTRAP_ITERS = 10_000
BOOTSTRAP_SEED = 0
BOOTSTRAP_LEVEL = 0.95
