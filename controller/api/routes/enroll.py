"""Enrolment: a kit spends its one-time token on a certificate; anyone may fetch the CA."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cryptography import x509
from fastapi import APIRouter, HTTPException, Response

from controller.api.deps import SessionDep, StateDep
from controller.api.schemas import EnrollRequest, EnrollResponse
from controller.errors import PkiError
from controller.remediation import bundles
from controller.trust import enrolment as trust
from controller.trust import pki

_LOGGER = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["enrolment"])

_STATUS = {
    trust.TrustErrorKind.UNKNOWN_TOKEN: 401,
    trust.TrustErrorKind.TOKEN_USED: 409,
    trust.TrustErrorKind.TOKEN_EXPIRED: 410,
    trust.TrustErrorKind.KIT_REVOKED: 403,
    trust.TrustErrorKind.BAD_REQUEST: 422,
}


@router.get("/pki/ca.pem", response_class=Response)
def ca_certificate(state: StateDep) -> Response:
    """The device CA's certificate (public); kits check it against the pin in their token."""
    paths = pki.PkiPaths(state.settings.pki_dir)
    if not paths.exists():
        raise HTTPException(status_code=404, detail="this controller has no device CA")
    return Response(paths.ca_cert.read_bytes(), media_type="application/x-pem-file")


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    status_code=201,
    responses={s: {"description": k.value} for k, s in _STATUS.items()},
)
def enroll(request: EnrollRequest, session: SessionDep, state: StateDep) -> EnrollResponse:
    """Spend a one-time token on a certificate for the CSR's key; nothing is issued on refusal."""
    paths = pki.PkiPaths(state.settings.pki_dir)
    if not paths.exists():
        raise HTTPException(status_code=503, detail="this controller has no device CA")
    settings = state.settings
    now = datetime.now(UTC)
    try:
        with session.begin():
            kit_id, cert_pem, superseded = trust.enroll(
                session,
                token=request.token,
                csr_pem=request.csr_pem,
                paths=paths,
                now=now,
                days=settings.cert_days,
            )
        if superseded:  # once committed, the kit's old identity stops working at once
            with session.begin():
                trust.publish_revocations(
                    session, paths=paths, broker_dir=settings.broker_dir, now=now
                )
    except trust.TrustError as exc:
        raise HTTPException(status_code=_STATUS[exc.kind], detail=str(exc)) from exc
    except PkiError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:  # playbook bundles: the kit learns whose signature to trust (made once if missing)
        bundle_key = bundles.public_key_pem(bundles.ensure_signing_key(paths.bundle_key))
    except bundles.BundleBuildError:
        _LOGGER.exception("no bundle signing key: kit %s will refuse every bundle", kit_id)
        bundle_key = None
    return EnrollResponse(
        kit_id=kit_id,
        certificate_pem=cert_pem.decode(),
        ca_pem=paths.ca_cert.read_text(encoding="ascii"),
        not_after=cert.not_valid_after_utc,
        mqtt_host=settings.public_mqtt_host or settings.mqtt_host,
        mqtt_port=settings.public_mqtt_port or settings.mqtt_port,
        bundle_key_pem=bundle_key.decode("ascii") if bundle_key else None,
    )
