"""What the inventory refuses, in Kazakh, Russian and English (`inventory.toml`, `refused.*`)."""

from __future__ import annotations

from controller.errors import ControllerError
from controller.loans.errors import ContractsError


class InventoryRefusedError(ContractsError):
    """An inventory change refused: an unknown kit, or a kit under contract (`status` fits)."""

    domain = "inventory"

    def __init__(self, key: str, status: int, /, **params: object) -> None:
        ControllerError.__init__(self, key=key, params=params)
        self.status = status
