"""verl's training-data row (the verl/DAPO parquet convention), built and written in one place.

`harness export` (a run's problems as training data) and train/examples/verl_data.py (our loaders' data for
verl) write it; verl reads it as it is, and `tasks.reward` and `train.data` read its answer back from
`reward_model.ground_truth`. Columns:

    data_source   str   the dataset's name (verl passes it to the reward function)
    prompt        list  the chat messages [{role, content}], template applied
    ability       str   ABILITY, as DAPO-Math-17k writes it
    reward_model  dict  {style: "rule", ground_truth: the answer}
    extra_info    dict  the writer's own fields ({index, ...})

pyarrow is imported inside `write_parquet` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ABILITY = "MATH"


def row(data_source: str, messages: Sequence[Mapping[str, Any]], answer: str, extra_info: Mapping[str, Any]) -> dict:
    """One row: the messages keep their role and content only."""
    return {
        "data_source": data_source,
        "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": dict(extra_info),
    }


def write_parquet(rows: Iterable[dict], where) -> None:
    """The rows as one parquet table to `where` (a path or a binary file object). Not atomic by itself: write it
    through `tasks.files.atomic_path`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(rows)), where)
