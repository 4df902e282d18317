"""Integrations of the entropy-masked loss and our reward with external RL engines (TRL, verl)."""
