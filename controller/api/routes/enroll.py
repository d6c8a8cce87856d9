"""Enrolment: a kit spends its one-time token on a certificate; anyone may fetch the CA."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from controller.api.deps import SessionDep, StateDep
from controller.trust import enrolment, pki
from controller.trust.schemas import EnrollRequest, EnrollResponse

router = APIRouter(prefix="/api/v1", tags=["enrolment"])

PEM = "application/x-pem-file"


@router.get(
    "/pki/ca.pem",
    response_class=Response,
    responses={200: {"content": {PEM: {}}, "description": "the CA certificate, PEM"}},
)
def ca_certificate(state: StateDep) -> Response:
    """The device CA's certificate (public); kits check it against the pin in their token."""
    return Response(enrolment.ca_certificate(pki.PkiPaths(state.settings.pki_dir)), media_type=PEM)


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    status_code=201,
    responses={s: {"description": k.value} for k, s in enrolment.STATUS_OF_KIND.items()},
)
def enroll(request: EnrollRequest, session: SessionDep, state: StateDep) -> EnrollResponse:
    """Spend a one-time token on a certificate for the CSR's key; nothing is issued on refusal."""
    return enrolment.enroll_kit(
        session,
        token=request.token,
        csr_pem=request.csr_pem,
        settings=state.settings,
        now=datetime.now(UTC),
    )
