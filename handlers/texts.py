"""Order statuses as a customer reads them, in his language (the ids are in locales/*/messages.po)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from storage.models import OrderStatus


def status_label(status: OrderStatus | str) -> str:
    labels = {
        OrderStatus.NEW: _("new"),
        OrderStatus.AWAITING_PAYMENT: _("awaiting payment"),
        OrderStatus.PAID: _("paid"),
        OrderStatus.FAILED: _("payment failed"),
        OrderStatus.CANCELLED: _("cancelled"),
        OrderStatus.REFUNDED: _("refunded"),
    }
    return labels[OrderStatus(status)]
