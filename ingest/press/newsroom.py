"""The SIMULATED press stream: what four invented outlets ("SIM …") publish about Huế, and when.

Written in ordinary Vietnamese news phrasing about Huế's real places; the outlets and the events
are not real. :func:`newsroom_script` lays out, for a start time, a backfill of everyday news over
the previous ``backfill_hours`` (the burst rules' baseline) and then, cycle after cycle, everyday
news every ``every_s`` seconds and one hazard story that every outlet picks up within a couple of
minutes, followed by a complaint about it: a story spreading, a burst of its topic, negative
coverage of a watched place. Pure: times are computed from ``start``, nothing reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: (slug, name, whether its feed carries the full text; when not, the article page is fetched)
OUTLETS: tuple[tuple[str, str, bool], ...] = (
    ("sim_tin_hue", "SIM Tin Huế", True),
    ("sim_song_huong", "SIM Sông Hương", False),
    ("sim_co_do", "SIM Cố Đô", True),
    ("sim_thuan_an_24h", "SIM Thuận An 24h", True),
)

#: everyday news (title, text): what the burst baseline is made of
EVERYDAY: tuple[tuple[str, str], ...] = (
    ("Phường Vỹ Dạ ra quân làm sạch tuyến đường ven sông Như Ý",
     "Sáng Chủ nhật, đoàn viên thanh niên và người dân phường Vỹ Dạ đã thu gom rác thải, phát quang bụi "
     "rậm dọc bờ sông Như Ý. Chính quyền phường cho biết hoạt động sẽ được duy trì vào cuối tuần đầu "
     "tiên của mỗi tháng."),
    ("Đại Nội mở cửa đón khách tham quan vào buổi tối",
     "Trung tâm Bảo tồn Di tích Cố đô Huế tiếp tục tổ chức chương trình tham quan Đại Nội về đêm vào "
     "các ngày cuối tuần. Du khách có thể thưởng thức nhã nhạc cung đình và chụp ảnh trước Ngọ Môn "
     "lung linh ánh đèn."),
    ("Chợ Đông Ba nhộn nhịp hàng hóa cuối năm",
     "Những ngày này, các sạp hàng khô, bánh mứt tại chợ Đông Ba đã bày bán đầy đủ. Theo ban quản lý "
     "chợ, giá cả nhìn chung ổn định, sức mua tăng so với tháng trước."),
    ("Thuận An chuẩn bị cho mùa du lịch biển",
     "Các cơ sở lưu trú và nhà hàng ven biển Thuận An đang sửa sang, nâng cấp dịch vụ. Địa phương "
     "cũng bố trí thêm nhân viên cứu hộ tại bãi tắm công cộng."),
    ("Sở Y tế triển khai đợt tiêm chủng mở rộng tại các trạm y tế phường",
     "Sở Y tế cho biết đợt tiêm chủng sẽ kéo dài đến cuối tháng, ưu tiên trẻ dưới năm tuổi. Phụ huynh "
     "được đề nghị mang theo sổ tiêm chủng khi đưa trẻ đến trạm."),
    ("Phường Kim Long khánh thành nhà văn hóa tổ dân phố",
     "Công trình được xây dựng từ ngân sách và sự đóng góp của người dân, có sân chơi cho thiếu nhi. "
     "Đây sẽ là nơi sinh hoạt cộng đồng của hơn ba trăm hộ dân trong khu vực."),
    ("Sở Xây dựng lấy ý kiến người dân về phương án chỉnh trang vỉa hè",
     "Sở Xây dựng vừa công bố dự thảo phương án chỉnh trang vỉa hè trên một số tuyến phố trung tâm. "
     "Người dân có thể góp ý trực tiếp tại phường hoặc qua cổng dịch vụ công đến hết tháng này."),
    ("Học sinh A Lưới nhận áo ấm trước mùa đông",
     "Một nhóm thiện nguyện đã trao hơn năm trăm áo ấm và sách vở cho học sinh các trường tiểu học ở "
     "A Lưới. Nhiều em nhỏ rất vui khi nhận quà trong những ngày trời trở lạnh."),
    ("Người dân Phú Hội phản ánh đèn đường hư hỏng nhiều tuần chưa được sửa",
     "Nhiều hộ dân trên đường Bến Nghé, phường Phú Hội cho biết đèn chiếu sáng đã hư gần một tháng, "
     "đi lại ban đêm rất nguy hiểm. Phường đã ghi nhận ý kiến và chuyển đến đơn vị quản lý."),
    ("Lễ hội áo dài thu hút đông đảo du khách tại Đại Nội",
     "Hàng nghìn người dân và du khách đã đến Đại Nội để tham gia chương trình trình diễn áo dài. "
     "Ban tổ chức cho biết lễ hội năm nay có thêm nhiều hoạt động trải nghiệm cho người nước ngoài."),
    ("Ngư dân Thuận An được mùa cá cơm",
     "Những ngày qua, nhiều tàu cá của ngư dân Thuận An trở về với khoang đầy cá cơm. Giá cá giữ ở mức "
     "khá giúp bà con có thêm thu nhập dịp cuối năm."),
    ("Vỹ Dạ hoàn thành nâng cấp các kiệt dân sinh",
     "Phường Vỹ Dạ vừa đưa vào sử dụng bốn tuyến kiệt được bê tông hóa và lắp đèn chiếu sáng. Người "
     "dân đánh giá công trình giúp việc đi lại thuận tiện hơn hẳn."),
    ("Kim Long tập huấn phòng cháy chữa cháy cho hộ kinh doanh",
     "Công an phường Kim Long phối hợp với đội cảnh sát phòng cháy chữa cháy hướng dẫn các hộ kinh "
     "doanh cách sử dụng bình chữa cháy và thoát nạn khi có sự cố."),
    ("Sở Y tế khuyến cáo người dân chủ động phòng sốt xuất huyết",
     "Sở Y tế đề nghị người dân thường xuyên dọn dẹp vật dụng chứa nước, ngủ màn kể cả ban ngày và "
     "đến cơ sở y tế khi có dấu hiệu sốt cao kéo dài."),
    ("Chủ tịch UBND thành phố tiếp công dân định kỳ",
     "Chủ tịch UBND thành phố đã tiếp và lắng nghe ý kiến của người dân về đất đai, giải phóng mặt "
     "bằng. Các kiến nghị được giao cho các sở, ngành liên quan xem xét, trả lời đúng hạn."),
    ("Tuyến đường lên A Lưới được thảm nhựa mới",
     "Sau ba tháng thi công, đoạn đường dẫn vào trung tâm A Lưới đã được thảm nhựa và sơn vạch kẻ "
     "đường. Các phương tiện lưu thông êm thuận, thời gian di chuyển rút ngắn đáng kể."),
    ("Chợ Đông Ba thí điểm thanh toán không dùng tiền mặt",
     "Hơn hai trăm tiểu thương ở chợ Đông Ba đã treo mã QR tại quầy hàng. Ban quản lý chợ cho biết sẽ "
     "mở rộng mô hình nếu được khách hàng hưởng ứng."),
    ("Đêm nhạc Trịnh Công Sơn bên bờ sông Hương",
     "Chương trình nghệ thuật ngoài trời bên bờ sông Hương đã thu hút đông đảo khán giả. Nhiều ca sĩ "
     "trẻ của Huế góp mặt với những ca khúc quen thuộc."),
)


@dataclass(frozen=True)
class Hazard:
    """One hazard story: each outlet's title over a shared report, then a complaint about it."""

    slug: str
    titles: tuple[str, ...]  # one per outlet, in :data:`OUTLETS` order
    report: str
    complaint: tuple[str, str]


HAZARDS: tuple[Hazard, ...] = (
    Hazard("lu-lut-phu-hoi",
           ("Lũ lụt gây ngập sâu nhiều tuyến đường ở phường Phú Hội",
            "Nước sông Hương dâng cao, nhiều tuyến phố ở Huế ngập sâu",
            "Mưa lớn, Phú Hội và Vỹ Dạ chìm trong nước",
            "Huế: nhiều khu dân cư ngập lụt sau đêm mưa lớn"),
           "Theo Ban Chỉ huy phòng chống thiên tai thành phố, mưa lớn kéo dài từ đêm qua khiến mực nước "
           "sông Hương dâng cao, nhiều tuyến đường ở phường Phú Hội và phường Vỹ Dạ bị ngập sâu từ 0,3 "
           "đến 0,5 mét. Lực lượng chức năng đã cắm biển cảnh báo, hỗ trợ người dân di chuyển tài sản "
           "lên cao. Ban Chỉ huy khuyến cáo người dân hạn chế ra đường, không đi qua những đoạn ngập "
           "sâu và nước chảy xiết.",
           ("Người dân Vỹ Dạ bức xúc vì nước ngập vào nhà lần thứ ba trong tháng",
            "Nhiều hộ dân ở phường Vỹ Dạ cho biết nước tràn vào nhà lần thứ ba trong tháng, đồ đạc hư "
            "hỏng nặng. Người dân đề nghị thành phố sớm nạo vét hệ thống thoát nước để không còn cảnh "
            "ngập lụt kéo dài.")),
    Hazard("sat-lo-a-luoi",
           ("Sạt lở nghiêm trọng trên đường vào trung tâm A Lưới",
            "A Lưới: đất đá tràn xuống mặt đường, giao thông bị chia cắt",
            "Mưa lớn gây sạt lở, đường lên A Lưới bị chia cắt",
            "Khẩn trương khắc phục điểm sạt lở ở A Lưới"),
           "Mưa lớn kéo dài khiến một đoạn đường dẫn vào trung tâm huyện A Lưới bị sạt lở nghiêm "
           "trọng, đất đá tràn xuống mặt đường, giao thông bị chia cắt hoàn toàn. Lực lượng chức năng "
           "đã huy động máy móc khắc phục, đồng thời di dời các hộ dân sống gần taluy âm đến nơi an "
           "toàn. Đến sáng nay chưa ghi nhận thiệt hại về người.",
           ("Người dân A Lưới lo lắng vì điểm sạt lở chưa được xử lý dứt điểm",
            "Nhiều hộ dân ở A Lưới cho biết khu vực này đã sạt lở nhiều lần nhưng chưa được kè chắn. "
            "Bà con bức xúc và mong chính quyền sớm có giải pháp lâu dài trước mùa mưa bão.")),
    Hazard("mat-dien-kim-long",
           ("Hàng trăm hộ dân Kim Long mất điện hơn mười giờ",
            "Sự cố trạm biến áp, phường Kim Long mất điện kéo dài",
            "Kim Long: mất điện cả đêm, người dân bức xúc",
            "Mất điện diện rộng ở phường Kim Long"),
           "Từ chiều qua, hàng trăm hộ dân ở phường Kim Long bị mất điện kéo dài hơn mười giờ do sự cố "
           "tại trạm biến áp. Nhiều người dân cho biết không nhận được thông báo trước, sinh hoạt và "
           "buôn bán bị ảnh hưởng nặng. Đơn vị điện lực cho biết đang khẩn trương khắc phục sự cố và "
           "sẽ cấp điện trở lại trong ngày.",
           ("Người dân Kim Long khiếu nại vì mất điện không báo trước",
            "Sau sự cố mất điện kéo dài, nhiều hộ kinh doanh ở phường Kim Long đã gửi đơn khiếu nại, "
            "đề nghị đơn vị điện lực bồi thường hàng hóa hư hỏng và thông báo trước mỗi lần cắt điện.")),
)


@dataclass(frozen=True)
class Item:
    """One simulated article: which outlet publishes it, when, and what it says."""

    outlet: str  # slug of :data:`OUTLETS`
    published: datetime
    slug: str  # unique in the script: the article's link and GUID
    title: str
    text: str


def newsroom_script(start: datetime, until: datetime, *, backfill_hours: float = 26.0, every_s: float = 180.0,
                    cycle_s: float = 600.0) -> list[Item]:
    """Every item published in ``[start - backfill_hours, until]``, in publication order.

    Everyday news every ``every_s`` seconds, before ``start`` (the backfill: the bursts' baseline)
    and after it at the same pace, so the everyday places never burst; the articles come round in
    turn, each on two outlets only (18 articles, 4 outlets), so everyday news never spreads. From
    ``start``, each ``cycle_s`` cycle, a hazard story (flood, landslide, power cut in turn) carried
    by the four outlets 20 s apart, then a complaint about it.
    """
    items: list[Item] = []
    first = int(-backfill_hours * 3600 // every_s)
    n = first
    while start + timedelta(seconds=n * every_s) <= until:
        title, text = EVERYDAY[n % len(EVERYDAY)]
        items.append(Item(OUTLETS[n % len(OUTLETS)][0], start + timedelta(seconds=n * every_s),
                          f"tin-{n - first}", title, text))
        n += 1
    cycle = 0
    while start + timedelta(seconds=cycle * cycle_s) <= until:
        at = start + timedelta(seconds=cycle * cycle_s)
        hazard = HAZARDS[cycle % len(HAZARDS)]
        for i, (outlet, _, _) in enumerate(OUTLETS):
            items.append(Item(outlet, at + timedelta(seconds=15 + 20 * i), f"{hazard.slug}-{cycle}-{i}",
                              hazard.titles[i], hazard.report))
        items.append(Item(OUTLETS[cycle % len(OUTLETS)][0], at + timedelta(seconds=15 + 20 * len(OUTLETS)),
                          f"{hazard.slug}-{cycle}-phan-anh", *hazard.complaint))
        cycle += 1
    return sorted((i for i in items if i.published <= until), key=lambda i: i.published)
