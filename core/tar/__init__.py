"""The TAR model (Temporal-Aware Refinement): config, components, checkpoints."""
from .config import TARConfig  # noqa: F401
