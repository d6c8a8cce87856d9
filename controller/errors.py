"""The controller's exceptions: one root, a few meaningful children.

Every error carries the HTTP status that fits it (`status`) and what a client is told (`detail()`),
so the API maps them in one exception handler (`controller.api.errors`) and routes never catch
them; the command line prints `str(error)`.

Any error can say itself in Kazakh, Russian and English: give it a catalogue key (and the
catalogue's domain, `common/locale/<lang>/<domain>.toml`) and the key's placeholders' values:

    class KitRetiredError(ConflictError):
        domain = "inventory"                       # the catalogue, once per class

    raise KitRetiredError.translated("kit.retired", kit=kit_id)
    # or, from a child's own __init__: super().__init__(key="kit.retired", params={"kit": kit_id})

The error keeps them as `message_key` and `message_params` (`domain` names the catalogue). Its
message (`str`, the command line) is then the English text, and the API's answer carries
`messages` ({kk, ru, en}) beside `detail`, which the handler gives in the request's language
(`?lang=` or Accept-Language; English when nothing is asked): `body_in(lang)`, which an error
with structure overrides (a schedule's problems); the command line prints `messages()` in the
user's locale. Never put a submitted personal value (an IIN, a name, a phone) in `params`.
A parameter that is itself said in each language is a mapping of languages ({kk, ru, en}: a
kind's label, a state's name) or has a `say(lang)` method; each language's text takes its own.

A pydantic validator that refuses a value raises `InvalidValue(domain, key, **params)` (a
`ValueError`) the same way: the API's 422 then says it in the request's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from common.i18n import LANGS, Lang, catalogue


def said_in(value: object, lang: Lang) -> object:
    """A message parameter as `lang` says it: a mapping of languages gives its `lang` text (else
    its English), an object with `say(lang)` says itself; anything else is as it is."""
    if isinstance(value, Mapping):
        return value.get(lang) or value.get("en", "")
    say = getattr(value, "say", None)
    return say(lang) if callable(say) else value


class ControllerError(Exception):
    """Root of every error the controller raises on purpose."""

    status: int = 500
    headers: ClassVar[dict[str, str] | None] = None
    domain: ClassVar[str | None] = None
    """The catalogue a translated error's `key` is in (a class or an instance may set it)."""

    message_key: str | None = None
    """The catalogue key of a translated error (None: English only)."""

    def __init__(
        self,
        *args: object,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
        domain: str | None = None,
    ) -> None:
        """`args` as any exception, or `key` (+ `params`, `domain`): a message from a catalogue."""
        if domain is not None:
            self.domain = domain  # type: ignore[misc]  # an instance may name its own catalogue
        if key is not None:
            self.message_key = key
            self.message_params: dict[str, object] = dict(params or {})
        if key is not None and not args:
            args = (self.text("en"),)
        super().__init__(*args)

    @classmethod
    def translated(cls, key: str, /, **params: object) -> Self:
        """The error for `key` in the class's catalogue, its placeholders filled by `params`."""
        return cls(key=key, params=params)

    def _catalogue(self) -> Any:
        if self.domain is None:
            raise TypeError(f"{type(self).__name__} has a message key but no catalogue domain")
        return catalogue(self.domain)

    def text(self, lang: Lang) -> str:
        """The message in `lang` (its English message when it has no key)."""
        if self.message_key is None:
            return str(self)
        params = {name: said_in(value, lang) for name, value in self.message_params.items()}
        return str(self._catalogue().text(self.message_key, lang, **params))

    def messages(self) -> dict[Lang, str] | None:
        """The message in every language (kk, ru, en) when it has a key, else None."""
        if self.message_key is None:
            return None
        return {lang: self.text(lang) for lang in LANGS}

    def detail(self) -> Any:
        """What the API answers in `detail` (a sentence; children may add structure)."""
        return str(self)

    def body(self) -> dict[str, Any]:
        """The whole JSON answer: `detail`, `messages` when translated, what a child adds."""
        messages = self.messages()
        if messages is None:
            return {"detail": self.detail()}
        return {"detail": self.detail(), "messages": messages}

    def body_in(self, lang: Lang) -> dict[str, Any]:
        """The answer for a reader of `lang`: `body()` with `detail` in `lang` when it carries
        `messages` (English stays `body()` as is); a child with structure may say more."""
        body = self.body()
        messages = body.get("messages")
        if lang == "en" or not isinstance(messages, dict) or lang not in messages:
            return body
        return {**body, "detail": messages[lang]}


class InvalidValue(ValueError):  # noqa: N818  # raised inside pydantic validators, as ValueError
    """A validator's refusal from a catalogue: English as `str`, any language by `text(lang)`."""

    def __init__(self, domain: str, key: str, /, **params: object) -> None:
        self.domain = domain
        self.key = key
        self.params = params
        super().__init__(catalogue(domain).text(key, "en", **params))

    def text(self, lang: Lang) -> str:
        """The refusal in `lang`."""
        return catalogue(self.domain).text(self.key, lang, **self.params)


class ConfigError(ControllerError):
    """The controller's configuration is unusable (for a request: the service is unavailable)."""

    status = 503


class StorageError(ControllerError):
    """The database cannot be reached or migrated."""

    status = 503


class NotFoundError(ControllerError):
    """A thing asked for by id does not exist."""

    status = 404


class ConflictError(ControllerError):
    """A change refused by the state of what it would change."""

    status = 409


class PkiError(ControllerError):
    """The device CA cannot do what was asked."""

    status = 503


class CryptoError(ControllerError):
    """Personal data cannot be encrypted, decrypted or indexed: bad key or damaged data."""


class DocumentError(ControllerError):
    """A loan document cannot be rendered (bad data, or no font that can print it)."""

    status = 503
