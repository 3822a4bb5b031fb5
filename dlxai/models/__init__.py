"""Models: the audit wrapper, the torch MLP, training."""

from dlxai.models.base import AuditModel
from dlxai.models.training import MODEL_KINDS, train_model

__all__ = ["MODEL_KINDS", "AuditModel", "train_model"]
