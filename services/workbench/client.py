"""The workbench speaks to the services through their public HTTP APIs, as a department's system does,
with the workbench credential acting for the signed-in staff member (`http.acting_for`): ingest answers
with the same receipt, signature and chain as for a system, and each service's access log names the user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from services.workbench.accounts import Staff


class ServiceUnavailable(Exception):
    """A service did not answer: the page says so in Chinese and nothing was changed by the workbench."""


class Services:
    def __init__(self, clients: Mapping[str, httpx.AsyncClient], token: str) -> None:
        self._clients = clients
        self._token = token

    def headers(self, staff: Staff) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "X-Exchange-Act-As": staff.act_as,
            "X-Exchange-User": staff.username,
        }

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        staff: Staff,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._clients[service].request(
                method, path, json=json, params=params, headers=self.headers(staff)
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} 服务暂时无法访问（{type(exc).__name__}），请稍后重试。") from exc

    async def json(
        self, service: str, path: str, staff: Staff, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.call(service, "GET", path, staff, params=params)
        if response.status_code != 200:
            raise ServiceUnavailable(f"{service} 服务返回 {response.status_code}：{response.text[:200]}")
        body: dict[str, Any] = response.json()
        return body
