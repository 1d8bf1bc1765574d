"""App key of the delivery worker, so a request that wrote outbox rows can wake it."""

from __future__ import annotations

from aiohttp import web

from delivery.worker import DeliveryWorker

DELIVERY = web.AppKey("delivery", DeliveryWorker)
