"""Validation of the model and the QEq/EEQ baselines against reference DFT (``lsip validate``, docs/validation.md)."""
