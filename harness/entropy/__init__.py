"""Token entropy of a checkpoint over stored chains of thought: the measurements behind "forking tokens".

Three stages, one module each: `measure` (samples -> per-token entropies; torch and transformers inside
its functions), `stats` (numbers, numpy only) and `report` (Markdown and the histogram). `harness entropy`
runs them in that order; see harness/commands/entropy.py.
"""
