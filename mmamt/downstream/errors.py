"""Errors shared by the downstream backbones' strict loaders."""


class PretrainedKeyError(RuntimeError):
    """A pre-trained checkpoint does not fit a downstream backbone key for key."""
