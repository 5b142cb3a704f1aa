"""A filing's receipt (回执): an A4 PDF drawn with the certificates' page parts — who filed what for
which period, when, whether on time, the form's fields as the schema names them (phones and resident
IDs masked) and the SHA-256 of the submitted form. CPU work: call `receipt_pdf` in a worker thread."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from backend.certificates.render import blank_page, labelled_rows, page_pdf, stamp
from backend.china_time import CHINA_TIME


@dataclass(frozen=True, slots=True)
class ReceiptContent:
    receipt_number: str
    kind_name: str
    subject_kind: str
    subject_name: str
    subject_identifier: str
    period: int
    window_opens: dt.date
    window_closes: dt.date
    submitted_at: dt.datetime
    submitted_by: str
    late: bool
    amends_receipt: str | None
    amended: bool
    form: dict[str, Any]
    schema: dict[str, Any]
    digest_hex: str
    division_code: str


def _value(value: Any, spec: dict[str, Any]) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    for option in spec.get("oneOf", []):
        if isinstance(option, dict) and option.get("const") == value and "title" in option:
            return str(option["title"])
    return str(value)


def _fields(form: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, str]]:
    """The form's fields in the schema's order, labelled with their titles."""
    properties = schema.get("properties", {})
    order = [name for name in properties if name in form] + [name for name in form if name not in properties]
    return [(str(properties.get(name, {}).get("title", name)), _value(form[name], properties.get(name, {})))
            for name in order]


def receipt_pdf(content: ReceiptContent) -> bytes:
    page, draw = blank_page("年审年报回执", f"{content.kind_name} · Filing receipt")
    identifier = "统一社会信用代码" if content.subject_kind == "organisation" else "公民身份号码"
    when = content.submitted_at.astimezone(CHINA_TIME).strftime("%Y年%m月%d日 %H:%M")
    rows = [("回执编号", content.receipt_number), ("申报主体", content.subject_name), (identifier, content.subject_identifier),
            ("申报年度", f"{content.period}年度"),
            ("申报期", f"{content.window_opens:%Y年%m月%d日} 至 {content.window_closes:%Y年%m月%d日}"),
            ("提交时间", when), ("提交人", content.submitted_by),
            ("是否按期", "逾期提交" if content.late else "按期提交"), ("受理机关区划", content.division_code)]
    if content.amends_receipt:
        rows.append(("更正", f"本回执更正 {content.amends_receipt}"))
    y = labelled_rows(draw, rows)
    draw.line((120, y + 10, page.width - 120, y + 10), fill=(150, 150, 150), width=2)
    y = labelled_rows(draw, _fields(content.form, content.schema), y + 40)
    digest = content.digest_hex
    labelled_rows(draw, [("表单摘要 SHA-256", " ".join(digest[i:i + 16] for i in range(0, len(digest), 16)))], y + 20)
    if content.amended:
        stamp(draw, "已更正")
    elif content.late:
        stamp(draw, "逾期")
    return page_pdf(page, f"年审年报回执 {content.receipt_number}", content.kind_name)
