"""The controller's exceptions: one root, a few meaningful children."""


class ControllerError(Exception):
    """Root of every error the controller raises on purpose."""


class ConfigError(ControllerError):
    """The controller's configuration is unusable."""


class StorageError(ControllerError):
    """The database cannot be reached or migrated."""


class NotFoundError(ControllerError):
    """A thing asked for by id does not exist."""


class PkiError(ControllerError):
    """The device CA cannot do what was asked."""


class CryptoError(ControllerError):
    """Personal data cannot be encrypted, decrypted or indexed: bad key or damaged data."""


class DocumentError(ControllerError):
    """A loan document cannot be rendered (bad data, or no font that can print it)."""
