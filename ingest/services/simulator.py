"""SIMULATED one-stop-shop dossiers with the shape of Huế's: its real departments and wards, about
2,129 procedures (814 online at level 3, 976 at level 4, the rest in person, as the province reports),
a few hundred dossiers a working day, each received, processed, sometimes sent back for a supplement,
and finished (resolved, or returned) mostly by its due time: each department has its own on-time rate.

No public dossier data exists in the registries: every row here says ``simulated``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
DEPARTMENTS = (  # the province's departments and the city's and towns' people's committees
    "Sở Tư pháp",
    "Sở Tài chính",
    "Sở Xây dựng",
    "Sở Nông nghiệp và Môi trường",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Công Thương",
    "Sở Nội vụ",
    "Sở Văn hóa và Thể thao",
    "Sở Du lịch",
    "Sở Khoa học và Công nghệ",
    "Sở Giao thông vận tải",
    "Ban Quản lý Khu kinh tế, công nghiệp",
    "UBND thành phố Huế",
    "UBND thị xã Hương Thủy",
    "UBND thị xã Hương Trà",
    "UBND huyện Phong Điền",
    "UBND huyện Quảng Điền",
    "UBND huyện Phú Vang",
    "UBND huyện Phú Lộc",
    "UBND huyện A Lưới",
    "UBND phường Phú Hội",
    "UBND phường Vĩnh Ninh",
    "UBND phường Đông Ba",
    "UBND phường Tây Lộc",
    "UBND phường Kim Long",
    "UBND phường An Cựu",
    "UBND phường Thuận Hòa",
    "UBND phường Xuân Phú",
)
ACTIONS = ("Cấp", "Cấp lại", "Điều chỉnh", "Gia hạn", "Đăng ký", "Thẩm định", "Xác nhận", "Công nhận")
OBJECTS = (
    "giấy phép xây dựng",
    "giấy chứng nhận quyền sử dụng đất",
    "phiếu lý lịch tư pháp",
    "khai sinh",
    "kết hôn",
    "hộ kinh doanh",
    "giấy phép kinh doanh rượu",
    "giấy phép lái xe",
    "chứng chỉ hành nghề",
    "giấy phép môi trường",
    "giấy phép lao động",
    "hồ sơ thiết kế",
    "biến động đất đai",
    "giấy phép tổ chức lễ hội",
    "cơ sở lưu trú du lịch",
    "trường mầm non tư thục",
    "giấy chứng nhận an toàn thực phẩm",
    "dự án đầu tư",
    "con dấu",
    "quảng cáo ngoài trời",
)
LEVEL_COUNTS = {"online_3": 814, "online_4": 976, "in_person": 339}  # 2,129 procedures
FINAL = ("resolved", "returned")


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    level: str
    department: str
    days: int  # the legal handling time


def procedures(seed: int = 16) -> list[Procedure]:
    """The simulated catalogue: 2,129 procedures spread over the departments."""
    rng = random.Random(seed)
    levels = [lv for lv, n in LEVEL_COUNTS.items() for _ in range(n)]
    rng.shuffle(levels)
    out = []
    for i, level in enumerate(levels):
        dept = DEPARTMENTS[i % len(DEPARTMENTS)]
        name = f"{rng.choice(ACTIONS)} {rng.choice(OBJECTS)}"
        out.append(
            Procedure(
                f"{1 + i % len(DEPARTMENTS):02d}.{i:04d}",
                name,
                level,
                dept,
                rng.choice((1, 2, 3, 5, 7, 10, 15, 20)),
            )
        )
    return out


def on_time_rates(seed: int = 16) -> dict[str, float]:
    """Each department's chance to finish a dossier by its due time (most 95-99.5 %, a few lower)."""
    rng = random.Random(seed + 1)
    return {
        d: (rng.uniform(0.95, 0.995) if rng.random() > 0.15 else rng.uniform(0.82, 0.92)) for d in DEPARTMENTS
    }


def dossier_rows(start: datetime, end: datetime, *, per_day: int = 900, seed: int = 16) -> Iterator[dict]:
    """Every status change of the dossiers received from ``start`` to ``end``, as API rows (dicts with
    aware datetimes), in order of the dossier's receipt; changes after ``end`` are left out."""
    rng = random.Random(seed + 2)
    catalogue = procedures(seed)
    weights = [1.0 / (1 + i % 50) for i in range(len(catalogue))]  # a few procedures take most dossiers
    rates = on_time_rates(seed)
    day = start.astimezone(HUE).replace(hour=0, minute=0, second=0, microsecond=0)
    n = 0
    while day < end:
        weekday = day.weekday()
        count = per_day if weekday < 5 else (per_day // 5 if weekday == 5 else 0)
        picked = rng.choices(catalogue, weights, k=count)
        for proc in picked:
            received = day + timedelta(hours=7.5, seconds=int(rng.uniform(0, 9.5 * 3600)))
            if received < start or received >= end:
                continue
            n += 1
            due = received + timedelta(days=proc.days)
            on_time = rng.random() < rates[proc.department]
            span = (
                (due - received) * rng.uniform(0.2, 0.95)
                if on_time
                else (due - received) + timedelta(hours=rng.uniform(1, 24 * max(2, proc.days)))
            )
            finished = received + span
            base = {
                "dossier_id": f"H{received:%y%m%d}-{n:07d}",
                "procedure_code": proc.code,
                "procedure_name": proc.name,
                "level": proc.level,
                "department": proc.department,
                "received": received,
                "due": due,
                "finished": None,
                "simulated": True,
            }
            steps = [("received", received), ("processing", received + span * 0.1)]
            if rng.random() < 0.08:
                steps.append(("supplement_requested", received + span * 0.4))
            steps.append(("returned" if rng.random() < 0.03 else "resolved", finished))
            for status, t in ((s, t.replace(microsecond=0)) for s, t in steps):
                if t >= end:
                    break
                yield {**base, "status": status, "time": t, "finished": t if status in FINAL else None}
        day += timedelta(days=1)


def write_csv(path: str, start: datetime, end: datetime, per_day: int) -> int:
    """Write the SIMULATED rows of ``start``..``end`` as the CSV export the ``services-csv`` feed reads."""
    import csv

    from ingest.services.rows import FIELDS

    rows = sorted(dossier_rows(start, end, per_day=per_day), key=lambda r: r["time"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(FIELDS)
        for r in rows:
            out.writerow(
                [
                    "" if r[k] is None else (r[k].isoformat() if isinstance(r[k], datetime) else r[k])
                    for k in FIELDS
                ]
            )
    return len(rows)


if __name__ == "__main__":  # python -m ingest.services.simulator OUT.csv START_DAY DAYS PER_DAY
    import sys

    first = datetime.fromisoformat(sys.argv[2]).replace(tzinfo=HUE)
    print(write_csv(sys.argv[1], first, first + timedelta(days=int(sys.argv[3])), int(sys.argv[4])))
