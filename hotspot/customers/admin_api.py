"""The customers admin JSON API at /api/v1/customers: blocks on phones and devices, and the
devices a phone is bound to, for scripts and other dashboards.

The same service as the admin pages (hotspot.customers.Blocks), the same permissions
(`customers.read` to look, `customers.write` to change) and the same audit entries
(customer.block, customer.unblock, customer.bind, customer.unbind). Refusals are 4xx JSON
naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts import Principal, requires
from hotspot.customers.blocks import MAX_REASON, BindingView, BlockError, BlockView, subject
from hotspot.customers.tables import BlockKind
from hotspot.http.client import client_ip
from hotspot.http.errors import error_body
from hotspot.runtime import Hotspot

__all__ = ["MAX_BLOCK_DAYS", "CustomerAdminApi"]

Kind = Literal["phone", "mac"]
MAX_BLOCK_DAYS = 3660  # a block's end at most ten years ahead, as the admin page offers it


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockIn(_Model):
    kind: Kind = Field(description="What to block: a phone number or a device MAC")
    value: str = Field(min_length=1, max_length=32, description="0712345678 / 2547... or AA:BB:CC:DD:EE:FF")
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="For the admins; never shown")
    expires_at: float | None = Field(
        None,
        allow_inf_nan=False,
        gt=0,
        description=f"When the block ends (Unix time, at most {MAX_BLOCK_DAYS} days ahead); "
        "none: until lifted",
    )


class BlockOut(_Model):
    id: int
    kind: str
    value: str
    reason: str
    created_by: str
    created_at: float
    expires_at: float | None
    lifted_at: float | None
    lifted_by: str | None

    @classmethod
    def of(cls, block: BlockView) -> BlockOut:
        return cls(**block.as_dict())


class BlockedOut(_Model):
    block: BlockOut
    grants_suspended: int
    devices_disconnected: int


class UnblockedOut(_Model):
    block: BlockOut
    grants_resumed: int


class BindingIn(_Model):
    mac: str = Field(min_length=1, max_length=32, description="The device's MAC address")


class BindingOut(_Model):
    phone: str
    mac: str
    created_by: str
    created_at: float

    @classmethod
    def of(cls, binding: BindingView) -> BindingOut:
        return cls(
            phone=binding.phone, mac=binding.mac, created_by=binding.created_by, created_at=binding.created_at
        )


def block_error_response(request: Request[Any, Any, Any], exc: BlockError) -> Response[Any]:
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    fields = [{"field": exc.field, "message": exc.message}] if exc.field != "form" else None
    request_id = str(request.scope.get("state", {}).get("request_id", "-"))
    return Response(
        error_body(status, exc.message, request_id, fields=fields),
        status_code=status,
        media_type=MediaType.JSON,
        headers={"Cache-Control": "no-store"},
    )


def _target(kind: str) -> str:
    return "phone" if kind == BlockKind.PHONE else "device"


class CustomerAdminApi(Controller):
    """Blocks and MAC bindings for the admin's scripts."""

    path = "/api/v1/customers"
    tags = ["customers"]
    exception_handlers = {BlockError: block_error_response}

    @get("/blocks", summary="Blocks in force", cache=False, guards=[requires("customers.read")])
    async def blocks(
        self,
        hotspot: NamedDependency[Hotspot],
        limit: Annotated[int, QueryParameter(ge=1, le=500, required=False)] = 100,
    ) -> list[BlockOut]:
        """Phones and devices blocked now, newest first."""
        return [BlockOut.of(b) for b in await hotspot.customers.blocks.all_in_force(limit)]

    @post(
        "/blocks", summary="Block a phone or a device", status_code=201, guards=[requires("customers.write")]
    )
    async def block(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        data: JSONBody[BlockIn],
    ) -> BlockedOut:
        """No purchase, redeem or move from it; its packages are suspended and its devices dropped."""
        latest = hotspot.customers.blocks.clock() + MAX_BLOCK_DAYS * 86400
        if data.expires_at is not None and data.expires_at > latest:
            raise BlockError(
                "At most ten years ahead; leave expires_at out to block until lifted.", field="expires_at"
            )

        async def audit(block: BlockView) -> None:  # in the block's transaction, before any router
            await hotspot.accounts.audit.record(
                principal.actor,
                "customer.block",
                (_target(block.kind), block.value),
                None,
                {"reason": block.reason, "expires_at": block.expires_at},
                client_ip(request),
            )

        outcome = await hotspot.customers.blocks.block(
            data.kind,
            data.value,
            reason=data.reason,
            by=principal.username,
            expires_at=data.expires_at,
            audit=audit,
        )
        block = outcome.block
        return BlockedOut(
            block=BlockOut.of(block),
            grants_suspended=outcome.suspended,
            devices_disconnected=outcome.disconnected,
        )

    @delete(
        "/blocks/{kind:str}/{value:str}",
        summary="Lift a block",
        status_code=200,
        guards=[requires("customers.write")],
    )
    async def unblock(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        kind: Annotated[str, PathParameter(description="phone or mac")],
        value: Annotated[str, PathParameter(description="The phone number or MAC")],
    ) -> UnblockedOut:
        """The packages it suspended come back if time and data are left."""

        async def audit(lifted: BlockView) -> None:  # in the lift's transaction
            await hotspot.accounts.audit.record(
                principal.actor,
                "customer.unblock",
                (_target(lifted.kind), lifted.value),
                {"reason": lifted.reason, "expires_at": lifted.expires_at, "blocked_by": lifted.created_by},
                {"lifted_at": lifted.lifted_at},
                client_ip(request),
            )

        lifted, restored = await hotspot.customers.blocks.unblock(
            kind, value, by=principal.username, audit=audit
        )
        return UnblockedOut(block=BlockOut.of(lifted), grants_resumed=restored)

    @get("/{phone:str}/bindings", summary="Devices a phone is bound to", guards=[requires("customers.read")])
    async def bindings(self, hotspot: NamedDependency[Hotspot], phone: FromPath[str]) -> list[BindingOut]:
        """Empty: the phone's purchases work on any device."""
        number = subject(BlockKind.PHONE, phone)
        return [BindingOut.of(b) for b in await hotspot.customers.blocks.bindings(number)]

    @post(
        "/{phone:str}/bindings",
        summary="Bind a phone to a device",
        status_code=201,
        guards=[requires("customers.write")],
    )
    async def bind(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        phone: FromPath[str],
        data: JSONBody[BindingIn],
    ) -> BindingOut:
        """From now on the phone's purchases and moves work only on its bound devices."""

        async def audit(bound: BindingView) -> None:  # in the binding's transaction
            await hotspot.accounts.audit.record(
                principal.actor,
                "customer.bind",
                ("phone", bound.phone),
                None,
                {"mac": bound.mac},
                client_ip(request),
            )

        binding = await hotspot.customers.blocks.bind(phone, data.mac, by=principal.username, audit=audit)
        return BindingOut.of(binding)

    @delete(
        "/{phone:str}/bindings/{mac:str}",
        summary="Unbind a device",
        status_code=200,
        guards=[requires("customers.write")],
    )
    async def unbind(
        self,
        request: Request[Any, Any, Any],
        hotspot: NamedDependency[Hotspot],
        principal: NamedDependency[Principal],
        phone: FromPath[str],
        mac: FromPath[str],
    ) -> list[BindingOut]:
        """Returns the devices still bound (none: the phone is free again)."""
        number = subject(BlockKind.PHONE, phone)
        device = subject(BlockKind.MAC, mac)
        await hotspot.customers.blocks.unbind(number, device)
        left = await hotspot.customers.blocks.bindings(number)
        await hotspot.accounts.audit.record(
            principal.actor,
            "customer.unbind",
            ("phone", number),
            {"mac": device},
            {"bound_left": len(left)},
            client_ip(request),
        )
        return [BindingOut.of(b) for b in left]
