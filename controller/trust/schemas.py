"""Device trust's and staff sign-in's API shapes: enrolment, bearer tokens, who is signed in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EnrollRequest(BaseModel):
    """A kit's enrolment: the one-time token and a CSR made with a key that stays on the kit."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    csr_pem: str = Field(min_length=1, max_length=10_000)


class EnrollResponse(BaseModel):
    """The kit's certificate and where its broker is."""

    kit_id: str
    certificate_pem: str
    ca_pem: str
    not_after: datetime
    mqtt_host: str
    mqtt_port: int
    bundle_key_pem: str | None = Field(
        default=None,
        description="The Ed25519 public key that signs playbook bundles (PEM): the kit installs "
        "only bundles it verifies",
    )
    content_key_pem: str | None = Field(
        default=None,
        description="The Ed25519 public key that signs content manifests (PEM): the kit syncs "
        "only manifests it verifies (or signed by a key this one handed over to)",
    )


class Credentials(BaseModel):
    """A user name and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    """A bearer token for the API."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_at: datetime
    role: str


class Me(BaseModel):
    """Who is signed in."""

    username: str
    role: str
