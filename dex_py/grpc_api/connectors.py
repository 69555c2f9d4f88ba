"""Connector calls of ``api.Dex`` (``CreateConnector``, ``UpdateConnector``,
``DeleteConnector``, ``ListConnectors``) on the storage's connector records. As in Dex they are
refused unless switched on (``DEX_API_CONNECTORS_CRUD=true``). The config is JSON on the wire
and must be an object; connectors from the config file stay read-only. Every change bumps the
storage's change counter, so running servers (every worker, every replica) open, re-open or
close the connector within about a second."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import grpc

from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api.errors import Abort, answering, invalid
from dex_py.storage.base import AlreadyExistsError, Connector, NotFoundError, Storage


def _connector_config(raw: bytes) -> dict:
    try:
        config = json.loads(raw) if raw else {}
    except ValueError:
        invalid("connector config is not JSON")
    if not isinstance(config, dict):
        invalid("connector config must be a JSON object")
    return config


def _enabled(api: ConnectorCalls) -> None:
    if not api.connectors_crud:
        raise Abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            "connector calls are off (set DEX_API_CONNECTORS_CRUD=true to allow them)",
        )


class ConnectorCalls:
    storage: Storage
    connectors_crud: bool

    def CreateConnector(self, request: pb.CreateConnectorReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "create connector"):
            _enabled(self)
            c = request.connector
            if not c.id or not c.type or not c.name:
                invalid("connector id, type and name are required")
            config = _connector_config(c.config)
            record = Connector(id=c.id, type=c.type, name=c.name, config=config)
            try:
                self.storage.create_connector(record)
            except AlreadyExistsError:
                return pb.CreateConnectorResp(already_exists=True)
            self.storage.bump_generation()
            return pb.CreateConnectorResp()

    def UpdateConnector(self, request: pb.UpdateConnectorReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "update connector"):
            _enabled(self)
            if not request.id:
                invalid("no connector ID supplied")
            if not (request.new_type or request.new_name or request.new_config):
                invalid("nothing to update")
            config = _connector_config(request.new_config) if request.new_config else None

            def change(old: Connector) -> Connector:
                return replace(
                    old,
                    type=request.new_type or old.type,
                    name=request.new_name or old.name,
                    config=config if config is not None else old.config,
                )

            try:
                self.storage.update_connector(request.id, change)
            except NotFoundError:
                return pb.UpdateConnectorResp(not_found=True)
            self.storage.bump_generation()
            return pb.UpdateConnectorResp()

    def DeleteConnector(self, request: pb.DeleteConnectorReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "delete connector"):
            _enabled(self)
            if not request.id:
                invalid("no connector ID supplied")
            try:
                self.storage.delete_connector(request.id)
            except NotFoundError:
                return pb.DeleteConnectorResp(not_found=True)
            self.storage.bump_generation()
            return pb.DeleteConnectorResp()

    def ListConnectors(self, request: pb.ListConnectorReq, context: grpc.ServicerContext) -> Any:
        with answering(context, "list connectors"):
            _enabled(self)
            return pb.ListConnectorResp(
                connectors=[
                    pb.Connector(
                        id=c.id, type=c.type, name=c.name, config=json.dumps(c.config).encode()
                    )
                    for c in self.storage.list_connectors()
                ]
            )
