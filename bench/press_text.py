"""Articles/s through normalise + segment + match + tone (+ the rule entity pass), beside bare
segmentation in the same run.

Issue 14 asks ≥ 200 articles/s on one core. Articles are the SIMULATED sample's texts repeated
with their order varied (about 60 words each, like a feed summary plus lead).

    PYTHONPATH=$PWD .venv/bin/python -m bench.press_text --articles 2000
"""

from __future__ import annotations

import argparse
import platform
import time

from ingest.press.entities import rule_entities
from ingest.press.text import Matcher, normalise, segment, understand
from ioc.feeds.press.settings import PressOptions

BASE = [
    ("Lũ lụt gây ngập sâu nhiều tuyến đường ở phường Phú Hội",
     "Mưa lớn kéo dài từ đêm qua khiến nước sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội bị ngập "
     "sâu, người dân phải di chuyển tài sản lên cao. Ban Chỉ huy phòng chống thiên tai thành phố đã cảnh báo "
     "nguy cơ ngập lụt kéo dài."),
    ("Chợ Đông Ba đón lượng khách kỷ lục dịp cuối tuần",
     "Tiểu thương chợ Đông Ba vui mừng khi lượng khách tăng mạnh. Sở Du lịch cho biết Đại Nội và các lăng "
     "tẩm thu hút đông đảo du khách trong tuần qua, giao thông thuận lợi."),
    ("Sạt lở taluy trên đường Hồ Chí Minh qua A Lưới",
     "Mưa lớn gây sạt lở taluy dương trên đường Hồ Chí Minh đoạn qua huyện A Lưới, Sở Giao thông vận tải "
     "đã điều máy móc khắc phục, chưa có thiệt hại về người."),
]
OPTIONS = PressOptions.model_validate({
    "places": [{"name": n, "terms": [n]} for n in ("Phú Hội", "Đông Ba", "A Lưới", "Vỹ Dạ", "Kim Long",
                                                   "Đại Nội", "sông Hương", "Thuận An", "An Cựu")],
    "agencies": [{"name": n, "terms": [n]} for n in ("Sở Du lịch", "Sở Giao thông vận tải", "Sở Y tế")],
    "topics": [{"name": "flood", "terms": ["lũ lụt", "ngập", "flood"]},
               {"name": "landslide", "terms": ["sạt lở", "landslide"]},
               {"name": "fire", "terms": ["cháy", "hỏa hoạn", "fire"]}],
})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2000)
    n = parser.parse_args().articles
    articles = [(t, " ".join(x.split()[i % 7:] + x.split()[:i % 7])) for i in range(n)
                for t, x in [BASE[i % len(BASE)]]]
    matcher = Matcher.build(OPTIONS)
    segment("khởi động")  # load the model outside the timing
    bare_rates, full_rates, entity_rates = [], [], []
    for _ in range(2):  # alternated, best of two: the machine is shared, a warm cache favours the second
        t = time.perf_counter()
        for title, text in articles:
            segment(normalise(f"{title}. {text}"))
        bare_rates.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        for title, text in articles:
            understand(title, text, matcher)
        full_rates.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        for title, text in articles:
            rule_entities(understand(title, text, matcher).words, matcher)
        entity_rates.append(n / (time.perf_counter() - t))
    bare, full, with_entities = max(bare_rates), max(full_rates), max(entity_rates)
    print(f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}")
    print(f"bare segmentation: {bare:,.0f} articles/s")
    print(f"normalise + segment + match + tone: {full:,.0f} articles/s ({full / bare:.2f} of the baseline)")
    print(f"... + rule entities: {with_entities:,.0f} articles/s "
          f"({with_entities / bare:.2f} of the baseline)")


if __name__ == "__main__":
    main()
