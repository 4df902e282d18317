"""Write a parquet in verl's row convention from our loaders: DAPO-Math-17k deduplicated, or AIME with the DAPO prompt.

verl reads its training and validation files as they are, so the deduplication of DAPO-Math-17k (the
published file repeats each prompt many times) and the AIME prompts (same template as training: the last line
"Answer: $Answer") have to be written out first; `train.data.load_items` does both, as for our own trainer.

    python train/examples/verl_data.py --source hub:BytedTsinghua-SIA/DAPO-Math-17k --out dapo.parquet
    python train/examples/verl_data.py --source aime24 --out aime24.parquet
"""

import argparse
import sys
from pathlib import Path


def verl_rows(items, data_source: str) -> list[dict]:
    """Rows in verl's convention (tasks.verl_rows): extra_info holds the row's index and the item's id."""
    from tasks import verl_rows as rows

    return [rows.row(data_source, it.messages, it.answer, {"index": i, "id": it.id}) for i, it in enumerate(items)]


def _data_source(source: str) -> str:
    """hub:Org/Name -> Name; path/to/file.parquet -> file; aime24 -> aime24."""
    if source.startswith("hub:"):
        return source[4:].split("/")[-1]
    return Path(source).stem if Path(source).suffix else source


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="aime24, aime25, hub:<dataset id>, or a .parquet/.jsonl file")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--template", default="dapo", help="prompt template for plain-text rows (default: dapo)")
    ap.add_argument("--data-source", default=None, help="value of the data_source column (default: from --source)")
    args = ap.parse_args(argv)

    from tasks.errors import TaskError
    from tasks.files import atomic_path
    from tasks.verl_rows import write_parquet
    from train.config import ConfigError
    from train.data import load_items

    try:
        items = load_items(args.source, args.template)
    except (ConfigError, TaskError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = args.data_source or _data_source(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as f:  # whole or not at all: the recipe skips a file that exists
        write_parquet(verl_rows(items, name), f)
    print(f"{len(items)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
