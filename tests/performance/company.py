"""A small company's October: contracts and payments written as rows, and scorecard templates that weigh them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from evenhand.models import Account
from evenhand.models.customer import Contract, ContractKind, Payment
from evenhand.performance import document, period
from tests.builders import Org

OCTOBER = period.parse("2026-10")
AFTER = date(2026, 12, 4)  # a day after October ended, for ``close(today=)``
TEMPLATES = """name: 测试考核
metrics:
  cash_collected: {target: 10000, cap: 120}
  new_contracts: {target: 2, cap: 150}
templates:
  - key: standard
    label: {zh-CN: 通用模板, en: Standard}
    weights:
      junior: {cash_collected: 70, new_contracts: 30}
      senior: {cash_collected: 100}
tiers:
  - {key: gold, label: {zh-CN: 金牌, en: Gold}, min: 85, grants: [key_account]}
  - {key: silver, label: {zh-CN: 银牌, en: Silver}, min: 50}
"""
# rep: (contracts signed in October, cash received in October)
OCTOBER_SALES = {"rep_n1": (2, 10000), "rep_n2": (1, 5000), "rep_s1": (0, 2000), "rep_e1": (1, 0)}


def at(day: int, month: int = 10) -> datetime:
    return datetime(2026, month, day, 4, 0, tzinfo=UTC)  # noon in Shanghai


def sell(session: Session, org: Org, rep: str, *, contracts: int, cash: float, day: int = 10) -> None:
    account = Account(name=f"{rep} 客户", owner_id=org.id(rep))
    session.add(account)
    session.flush()
    first = None
    for _ in range(max(contracts, 1)):
        contract = Contract(account_id=account.id, owner_id=org.id(rep), kind=ContractKind.NEW,
                            amount=Decimal(20000), signed_at=at(day) if contracts else at(day, 8),
                            starts_on=date(2026, 10, 1), ends_on=date(2027, 10, 1))
        session.add(contract)
        session.flush()
        first = first or contract
    if cash and first is not None:
        pay(session, first.id, cash, day)


def pay(session: Session, contract_id: int, cash: float, day: int = 10) -> None:
    session.add(Payment(contract_id=contract_id, amount=Decimal(cash), received_at=at(day)))
    session.flush()


def build(session: Session, org: Org) -> None:
    document.save(session, TEMPLATES, author=None, note="tests")
    for rep, (contracts, cash) in OCTOBER_SALES.items():
        sell(session, org, rep, contracts=contracts, cash=cash)
