"""The SDK's exceptions, rooted in one base class.

::

    PluginSDKError
    ├── ActionError      an action failed; the message reaches the workflow
    ├── ProtocolError    a message broke wire protocol v1
    └── DefinitionError  the plugin itself is defined wrongly (e.g. an action twice)
"""

from __future__ import annotations


class PluginSDKError(Exception):
    """Base of every exception the SDK raises."""


class ActionError(PluginSDKError):
    """Raise from an action to fail it with a message the operator will read.

    ``retryable`` tells the engine that trying again may succeed (a busy
    server, a lock held); ``type`` is a short machine-readable code.
    """

    def __init__(self, message: str, *, retryable: bool = False, type: str = "ActionError") -> None:  # noqa: A002
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.type = type


class ProtocolError(PluginSDKError):
    """A message that is not valid wire protocol v1 (bad JSON, shape or version)."""


class DefinitionError(PluginSDKError):
    """The plugin's own code is wrong: an action defined twice, a bad name."""
