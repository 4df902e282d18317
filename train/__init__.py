"""Entropy-masked GRPO/DAPO: entropy kernels, the top-rho mask, the policy loss and the trainer."""
