import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests read the AIME files through the same loading code users run: $HARNESS_DATA_DIR.
if "HARNESS_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["HARNESS_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = os.environ.get("HARNESS_DATA_DIR")
    if not path or not Path(path).is_dir():
        pytest.fail("HARNESS_DATA_DIR is not set and ../shared/data does not exist")
    return Path(path)
