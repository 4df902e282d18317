"""The token-entropy analysis under its former single-module name; the stages live in `harness.entropy`.

Kept so that `from harness import entropy_analysis as ea` keeps working: every name is the stage module's.
"""

from harness.entropy.measure import (  # noqa: F401
    OPTIONAL,
    REQUIRED,
    TOKEN_SCHEMA,
    column,
    load_model,
    load_samples,
    pick_device,
    rebuild_prompts,
    sampling_temperature,
    token_entropies,
    token_table,
    token_texts,
)
from harness.entropy.report import compare_markdown, forking_markdown, histogram_png, summary_markdown  # noqa: F401
from harness.entropy.stats import (  # noqa: F401
    LOW,
    PAPER,
    Comparison,
    compare,
    distribution,
    forking_tokens,
    position_buckets,
    summarize,
    token_key,
    top_fraction,
)
