"""The change log of the demo year, and the app releases and campaigns behind it.

The change entries read like any honest change log: what was released or switched, and the
metrics its author expected it to touch. What a release actually does to the system (the Android
push bug in 3.2.0/3.2.1) lives only in :class:`Release` — a simulation parameter that is never
written to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from evenhand.demo.frame import Frame
from evenhand.demo.worktime import local_date

ADMIN_ID, OPS_ID = 1, 2
PUSH_FAILURE_BASE = 0.008  # any channel loses a few messages
PUSH_FAILURE_BUG = 0.6  # Android clients on the incompatible push SDK


@dataclass(frozen=True)
class Release:
    version: str
    at: int
    android_push_bug: bool = False


@dataclass(frozen=True)
class VolumeEffect:
    channel: str
    start: int
    stop: int
    factor: float


@dataclass(frozen=True)
class ChangePlan:
    upgrade_at: int | None  # the CRM upgrade (mid-August) when the window contains one
    sms_fallback_at: int | None
    releases: tuple[Release, ...]
    effects: tuple[VolumeEffect, ...]
    entries: tuple[dict[str, Any], ...]


def last_anniversary(frame: Frame, month: int, day: int, *, margin_days: int = 0) -> date | None:
    """The most recent ``month``/``day`` before the end date, if it lies ``margin_days`` inside the window."""
    year = frame.end.year if date(frame.end.year, month, day) < frame.end else frame.end.year - 1
    found = date(year, month, day)
    return found if found >= frame.start + timedelta(days=margin_days) else None


def upgrade_day(frame: Frame) -> date | None:
    """The most recent 15 August inside the window, with two weeks of history before it."""
    return last_anniversary(frame, 8, 15, margin_days=14)


def sms_day(frame: Frame, upgrade: date) -> date:
    """The first working day at least 40 days (about six weeks) after the upgrade."""
    ts = frame.cal.next_open(np.array([frame.ts(upgrade + timedelta(days=40), 9)]))
    return local_date(int(ts[0]))


def plan_changes(frame: Frame) -> ChangePlan:
    upgrade = upgrade_day(frame)
    upgrade_at = frame.ts(upgrade, 22) if upgrade else None
    sms = sms_day(frame, upgrade) if upgrade else None
    sms_at = frame.ts(sms, 11) if sms and frame.ts(sms, 11) <= frame.now else None
    releases = _releases(frame, upgrade, sms)
    entries = [*_routine_entries(frame), *_release_entries(frame, upgrade_at, releases)]
    if sms_at is not None:
        entries.append(_entry("启用短信备用通道", "config", "notify", sms_at, OPS_ID,
                              "应用推送在 2 分钟内未确认送达的通知，改由短信再发送一次。",
                              ["notification_delivery", "notification_ack", "sms_cost"]))
    kept = sorted((e for e in entries if e["effective_at_ts"] <= frame.now), key=lambda e: e["effective_at_ts"])
    return ChangePlan(upgrade_at, sms_at, releases, _effects(frame), tuple(kept))


def _releases(frame: Frame, upgrade: date | None, sms: date | None) -> tuple[Release, ...]:
    base = upgrade - timedelta(days=75) if upgrade else frame.start + timedelta(days=150)
    plan = [Release("3.0.8", frame.ts(frame.start - timedelta(days=250), 10)),
            Release("3.1.2", frame.ts(frame.start - timedelta(days=90), 10)),
            Release("3.1.4", frame.ts(base, 10))]
    if upgrade:
        plan += [Release("3.2.0", frame.ts(upgrade + timedelta(days=2), 10), android_push_bug=True),
                 Release("3.2.1", frame.ts(upgrade + timedelta(days=19), 10), android_push_bug=True)]
    if sms:
        plan.append(Release("3.2.2", frame.ts(sms, 10)))
    return tuple(r for r in plan if r.at <= frame.now)


def _release_entries(frame: Frame, upgrade_at: int | None, releases: tuple[Release, ...]) -> list[dict[str, Any]]:
    notes = {"3.1.4": "商机详情页改版；修复若干已知问题。", "3.2.0": "适配 CRM v3.2，新版消息中心。",
             "3.2.1": "修复商机列表排序问题。", "3.2.2": "稳定性改进。"}
    entries = [_entry(f"移动端 App {r.version} 发布", "release", "mobile_app", r.at, ADMIN_ID, notes[r.version],
                      ["app_crash_rate", "app_rating"])
               for r in releases if r.version in notes and r.at >= frame.start_ts]
    if upgrade_at is not None:
        entries.append(_entry("CRM 升级 v3.2 / 移动端推送组件更新", "release", "crm", upgrade_at, ADMIN_ID,
                              "CRM 服务端升级至 v3.2：商机看板新增筛选项；移动端推送组件（SDK）更新至新版本。"
                              "发布窗口 22:00–24:00。", ["crm_availability", "page_load_time"]))
    return entries


def _routine_entries(frame: Frame) -> list[dict[str, Any]]:
    s, promo = frame.start, last_anniversary(frame, 11, 1)
    return [
        _entry("官网表单改版：新增公司规模与预算字段", "release", "website", frame.ts(s + timedelta(days=35), 10),
               OPS_ID, "官网留资表单新增两个选填字段。", ["lead_volume", "form_completion_rate"]),
        _entry("百度推广预算上调 30%", "campaign", "marketing", frame.ts(s + timedelta(days=100), 9), OPS_ID,
               "第二季度搜索推广预算上调，新增行业关键词。", ["lead_volume", "cost_per_lead"]),
        _entry("CRM 报表模块性能优化", "release", "crm", frame.ts(s + timedelta(days=160), 21), ADMIN_ID,
               "报表查询改为预聚合，大部分报表加载时间缩短。", ["report_load_time"]),
        _entry("线索导入模板更新", "config", "crm", frame.ts(s + timedelta(days=215), 14), OPS_ID,
               "展会线索导入模板增加“展位号”列。", ["import_error_rate"]),
    ] + ([_entry("双十一活动落地页上线", "campaign", "website", frame.ts(promo, 9), OPS_ID,
                 "官网首页与活动落地页上线，活动期至 11 月 11 日。", ["lead_volume"])] if promo else [])


def _effects(frame: Frame) -> tuple[VolumeEffect, ...]:
    """The campaigns in the change log that really move lead volume."""
    ads = VolumeEffect("baidu_ads", frame.ts(frame.start + timedelta(days=100), 9), frame.now + 1, 1.3)
    promo = last_anniversary(frame, 11, 1)
    if promo is None:
        return (ads,)
    return (ads, VolumeEffect("website", frame.ts(promo, 9), frame.ts(promo + timedelta(days=11)), 1.25))


def _entry(title: str, kind: str, system: str, at: int, author: int, description: str,
           metrics: list[str]) -> dict[str, Any]:
    return {"title": title, "kind": kind, "system": system, "effective_at_ts": at, "author_id": author,
            "description": description, "affected_metrics": metrics, "created_at_ts": at - 2 * 86_400}
