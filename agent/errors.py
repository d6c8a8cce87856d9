"""The agent's exceptions: one root, a few meaningful children."""


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""


class ConfigError(AgentError):
    """The agent's configuration or state directory is unusable."""
