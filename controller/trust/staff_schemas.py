"""Staff accounts' API shapes beyond signing in: a password change, a user as admins see it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PasswordChange(BaseModel):
    """The current password (checked) and the new one (held to the minimum policy)."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """A member of staff: name, role, whether they are disabled."""

    username: str
    role: str
    disabled: bool
