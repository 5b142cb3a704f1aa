"""The rules of the recognition calendar and the pre-check's reasons: pure functions and tables, no
database, so every part (the agency's views, the pre-check, silent recognition, reminders) reads the
calendar the same way."""

from __future__ import annotations

import calendar
import datetime as dt

from backend.eligibility.schemas import Advice, Standing


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months; the 31st becomes the month's last day where there is no 31st."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due_after(recognised_on: dt.date, window_months: int) -> dt.date:
    """A recognition stays valid `window_months`: the next is due then."""
    return add_months(recognised_on, window_months)


def standing(today: dt.date, next_due: dt.date, *, opens_days_before: int, due_soon_days: int) -> Standing:
    """`overdue` past the due date; `due-soon` within `due_soon_days` of it; `due` once recognition
    has opened (`opens_days_before` the due date); `not-due` before that."""
    days_left = (next_due - today).days
    if days_left < 0:
        return "overdue"
    if days_left <= due_soon_days:
        return "due-soon"
    if days_left <= opens_days_before:
        return "due"
    return "not-due"


def window_opens(next_due: dt.date, opens_days_before: int) -> dt.date:
    return next_due - dt.timedelta(days=opens_days_before)


# code → (Chinese, English, what to do in Chinese, what to do in English). `{…}` fields are filled in.
ADVICE: dict[str, tuple[str, str, str, str]] = {
    "not-on-roster": (
        "您不在任何养老金发放机构的待遇领取名单上。",
        "You are not on any paying agency's roster of pensioners.",
        "请联系发放您养老金的社保经办机构核实参保和待遇领取信息。",
        "Contact the social-security office that pays your pension to check your record."),
    "status-stopped": (
        "您的养老金待遇已停发（{reason}），无需认证。",
        "Your pension has been stopped ({reason}); no recognition is needed.",
        "如有异议，请联系发放地社保经办机构。",
        "If this is wrong, contact the paying social-security office."),
    "not-yet-open": (
        "本次认证期尚未开始，下次认证从 {opens} 开始，{due} 前完成即可。",
        "Recognition is not open yet: it opens on {opens} and is due by {due}.",
        "现在不需要做任何事，到时会提醒您。",
        "Nothing to do now; you will be reminded."),
    "not-enrolled": (
        "还没有登记人像，无法在手机上刷脸认证。",
        "No face photo is registered, so the phone face check is not available.",
        "请带身份证到居住地任一服务窗口登记人像；也可以请亲属代办、到自助终端或窗口认证、预约上门认证。",
        "Register your face at any service window where you live (bring your ID card); or use a relative, a "
        "kiosk, a window, or book a home visit."),
    "no-face-consent": (
        "您还没有单独同意使用人脸识别进行养老金资格认证（或已撤回同意）。",
        "You have not separately agreed to face recognition for pension recognition (or withdrew it).",
        "如愿意刷脸认证，请在本页同意；不同意也可以到窗口、自助终端认证或预约上门认证。",
        "To use the face check, agree on this page; or, without face, use a window, a kiosk or book a home visit."),
    "attested-capture-required": (
        "您最近{count}次都是用未经认证的手机应用刷脸认证的，发放机构要求这次换一种更可靠的方式。",
        "Your last {count} recognitions were face checks on a phone without an attested app; the paying "
        "agency asks for a stronger one this time.",
        "请用已登记的通办手机应用（安全认证的手机）刷脸，或到自助终端、窗口认证，也可以预约上门认证。",
        "Use the Tongban app on a phone registered for attested captures, or a kiosk or a window, or book a "
        "home visit."),
    "attempts-used-up": (
        "今天（或这一小时）的刷脸次数已用完。",
        "The face checks allowed this hour or today are used up.",
        "请稍后再试；也可以请亲属代办、到自助终端或窗口认证、预约上门认证。",
        "Try later; or use a relative, a kiosk, a window, or book a home visit."),
    "roster-data-issue": (
        "发放机构标记您的待遇资料需要更正：{issue}",
        "The paying agency flagged your record as needing a fix: {issue}",
        "认证前请先联系发放地社保经办机构更正资料，否则认证后仍会被退回。",
        "Contact the paying social-security office to fix it first; otherwise the recognition would be rejected."),
    "suspended": (
        "您的养老金因逾期未认证已暂停发放（自 {since} 起）。",
        "Your pension is suspended for a missed recognition (since {since}).",
        "完成认证后即恢复发放，并补发暂停期间的待遇。",
        "Once you are recognised, payment resumes and the suspended months are paid back."),
    "overdue": (
        "认证已逾期（应于 {due} 前完成）。",
        "Recognition is overdue (it was due by {due}).",
        "请尽快认证，以免养老金暂停发放。",
        "Please be recognised soon so that your pension is not suspended."),
}

STOP_REASONS = {"deceased": ("死亡", "deceased"), "emigrated": ("定居国外", "emigrated"),
                "transferred": ("待遇转出", "transferred"), "other": ("其他原因", "other reason")}


def advice(code: str, **fields: str) -> Advice:
    zh, en, todo_zh, todo_en = ADVICE[code]
    zh_fields = {k: (STOP_REASONS[v][0] if k == "reason" else v) for k, v in fields.items()}
    en_fields = {k: (STOP_REASONS[v][1] if k == "reason" else v) for k, v in fields.items()}
    return Advice(code=code, zh=zh.format(**zh_fields), en=en.format(**en_fields), todo_zh=todo_zh.format(**zh_fields),
                  todo_en=todo_en.format(**en_fields))
