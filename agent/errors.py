"""The agent's exceptions: one root, a few meaningful children."""


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""


class ConfigError(AgentError):
    """The agent's configuration or state directory is unusable."""


class IdentityError(AgentError):
    """The kit's key or certificate is missing, corrupt or not the one expected."""


class EnrollError(AgentError):
    """Enrolment failed; the message says why in words a technician can act on."""


class ProfileError(AgentError):
    """A kit profile (images/profiles/<name>.yaml) is missing or invalid; says which field."""
