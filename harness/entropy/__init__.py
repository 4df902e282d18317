"""Token entropy of a checkpoint over stored chains of thought: the measurements behind "forking tokens".

Three stages, one module each: `measure` (samples -> per-token entropies; torch and transformers inside
its functions), `stats` (numbers, numpy only) and `report` (Markdown and the histogram). `analysis` runs them
in that order over stored samples for `harness entropy` (harness/commands/entropy.py); `premise` samples a
base checkpoint and checks the paper's premise.
"""

DTYPES = ("float32", "bfloat16", "float16", "float64")  # what the model may run in for a measurement
