"""Deterministic generator of one-stop export data (tests/sim).

Everything here is a pure function of (seed, options): the same seed, options
and clock give byte-identical CSV and expected output.  A dossier is generated
from (seed, index) alone (plus the unit/catalogue world, itself a function of
the seed and options), so generation can stream and scale.

Time model: every instant is an integer count of seconds of *local* time
(Asia/Ho_Chi_Minh, UTC+07:00, no DST) since 1970-01-01 00:00 local; it is
converted to UTC only when written with a `Z` or another offset.

Each entity is a list of row *versions* (CapNhatLuc, key, row).  The state
visible at a clock `now` is, per key, the latest version with CapNhatLuc <= now
(for `thutuc`, every such version: the catalogue history is served).
"""

import bisect
import calendar
import random
import time

ENTITIES = ("donvi", "thutuc", "hoso", "bosung", "quatrinh")

KEYS = {
    "donvi": ("MaDonVi",),
    "thutuc": ("MaDonVi", "MaTTHC"),
    "hoso": ("MaHoSo",),
    "bosung": ("MaHoSo", "ThuTu"),
    "quatrinh": ("MaHoSo", "ThuTu"),
}

# Contract columns (source-api.md order) with their type for the expected
# output: s = text, ts = timestamp, int, code, mucdo (empty = 1),
# flag0 / flag1 (flag, default 0 / 1).
COLUMNS = {
    "donvi": [("MaDonVi", "s"), ("TenDonVi", "s"), ("MaDonViCha", "s"),
              ("CapDonVi", "s"), ("CapNhatLuc", "ts")],
    "thutuc": [("MaDonVi", "s"), ("MaTTHC", "s"), ("TenTTHC", "s"),
               ("MaLinhVuc", "s"), ("TenLinhVuc", "s"), ("MucDo", "mucdo"),
               ("ThoiHanGiaiQuyet", "int"), ("CoPhiLePhi", "flag0"),
               ("DangApDung", "flag1"), ("CapNhatLuc", "ts")],
    "hoso": [("MaHoSo", "s"), ("MaDonVi", "s"), ("MaTTHC", "s"),
             ("KenhThucHien", "code"), ("TrangThaiHoSo", "code"),
             ("NgayNopHoSo", "ts"), ("NgayTiepNhan", "ts"),
             ("NgayHenTra", "ts"), ("NgayKetThucXuLy", "ts"), ("NgayTra", "ts"),
             ("DuocThanhToanTrucTuyen", "flag0"), ("CapNhatLuc", "ts")],
    "bosung": [("MaHoSo", "s"), ("ThuTu", "int"), ("NgayBoSung", "ts"),
               ("NgayTiepNhanBoSung", "ts"), ("NgayHenTraTruoc", "ts"),
               ("NgayHenTraMoi", "ts"), ("TrangThaiBoSung", "s"),
               ("CapNhatLuc", "ts")],
    "quatrinh": [("MaHoSo", "s"), ("ThuTu", "int"), ("TrangThai", "code"),
                 ("ThoiDiemXuLy", "ts"), ("PhongBanXuLy", "s"),
                 ("NguoiXuLy", "s"), ("ChucDanh", "s"), ("NoiDungXuLy", "s"),
                 ("NgayBatDau", "ts"), ("NgayKetThucTheoQuyDinh", "ts"),
                 ("CapNhatLuc", "ts")],
}
PERSONAL = ["ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "DiaChi",
            "NgaySinh"]
EXTRA_COL = "GhiChuNoiBo"  # an unknown column: must be ignored


def csv_columns(entity):
    """Every column the export carries, in contract order (before shuffle)."""
    cols = [c for c, _ in COLUMNS[entity]]
    if entity == "hoso":
        cols += PERSONAL
    return cols + [EXTRA_COL]


# ---------------------------------------------------------------- time ----

DAY = 86400
TZ_OFFSET = 7 * 3600


def mkts(y, mo, d, h=0, mi=0, s=0):
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def plain(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def parse_plain(s):
    """yyyyMMddHHmmss -> local seconds; ValueError when not a real instant."""
    if len(s) != 14 or not s.isdigit():
        raise ValueError("not yyyyMMddHHmmss")
    y, mo, d = int(s[0:4]), int(s[4:6]), int(s[6:8])
    h, mi, se = int(s[8:10]), int(s[10:12]), int(s[12:14])
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]
            and h < 24 and mi < 60 and se < 60):
        raise ValueError("not a real date/time")
    return mkts(y, mo, d, h, mi, se)


def weekday(dn):
    return (dn + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0


def dn_of(y, mo, d):
    return mkts(y, mo, d) // DAY


# Timestamp representations (all denote the same instant).
ST_PORTAL, ST_ISO, ST_ISOMS, ST_SPACE, ST_Z, ST_OFF, ST_OFF4, ST_OFF9, \
    ST_FRAC7, ST_DATE, ST_DATEISO = range(11)


def fmt_ts(t, style, plain_only=False):
    if plain_only or style == ST_PORTAL:
        return plain(t)
    g = time.gmtime
    if style == ST_ISO:
        return time.strftime("%Y-%m-%dT%H:%M:%S", g(t))
    if style == ST_ISOMS:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000", g(t))
    if style == ST_SPACE:
        return time.strftime("%Y-%m-%d %H:%M:%S", g(t))
    if style == ST_Z:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", g(t - TZ_OFFSET))
    if style == ST_OFF:
        return time.strftime("%Y-%m-%dT%H:%M:%S+07:00", g(t))
    if style == ST_OFF4:
        return time.strftime("%Y-%m-%dT%H:%M:%S+0700", g(t))
    if style == ST_OFF9:  # the same instant written in UTC+09:00
        return time.strftime("%Y-%m-%dT%H:%M:%S+09:00", g(t + 2 * 3600))
    if style == ST_FRAC7:
        return time.strftime("%Y-%m-%d %H:%M:%S.0000000Z", g(t - TZ_OFFSET))
    if style == ST_DATE:
        return time.strftime("%Y%m%d", g(t))
    if style == ST_DATEISO:
        return time.strftime("%Y-%m-%d", g(t))
    raise ValueError(style)


class TS:
    """A timestamp value with the form it is written in."""
    __slots__ = ("t", "s")

    def __init__(self, t, s=ST_PORTAL):
        self.t = t
        self.s = s


class Disp:
    """A code written in a non-canonical way ('02', ' 4', 'MOT_PHAN')."""
    __slots__ = ("n", "s")

    def __init__(self, n, s):
        self.n = n
        self.s = s


def pick_style(rng, midnight=False):
    x = rng.random()
    if x < 0.74:
        return ST_PORTAL
    if midnight and x < 0.86:
        return ST_DATE if x < 0.80 else ST_DATEISO
    return rng.choice((ST_ISO, ST_ISO, ST_ISOMS, ST_SPACE, ST_Z, ST_OFF,
                       ST_OFF4, ST_OFF9, ST_FRAC7))


def mkts_styled(rng, t):
    return TS(t, pick_style(rng, t % DAY == 0))


def render(v, plain_only=False):
    if v is None:
        return ""
    tv = type(v)
    if tv is str:
        return v
    if tv is TS:
        return fmt_ts(v.t, v.s, plain_only)
    if tv is int:
        return str(v)
    if tv is Disp:
        return v.s
    return str(v)


def norm(v, typ):
    """The expected warehouse value, as text ('' = NULL)."""
    if typ == "mucdo":
        if v is None:
            return "1"
        return str(v.n if type(v) is Disp else v)
    if typ == "flag0" or typ == "flag1":
        if v is None or (type(v) is Disp and v.s.strip() == ""):
            return "t" if typ == "flag1" else "f"
        n = v.n if type(v) is Disp else v
        return "t" if n else "f"
    if v is None:
        return ""
    if type(v) is TS:
        return plain(v.t)
    if type(v) is Disp:
        return str(v.n)
    if type(v) is int:
        return str(v)
    return v.strip()


# ---------------------------------------------------------- calendar ----

# Approximate public-sector days off (enough for "legal-ish" due dates; the
# project's calendar file is the authority).  year -> (holidays, workdays).
_TET = {2019: (2, 2, 9), 2020: (1, 23, 7), 2021: (2, 10, 7), 2022: (1, 29, 9),
        2023: (1, 20, 7), 2024: (2, 8, 7), 2025: (1, 25, 9), 2026: (2, 14, 9)}
_HUNG = {2019: (4, 15), 2020: (4, 2), 2021: (4, 21), 2022: (4, 11),
         2023: (5, 2), 2024: (4, 18), 2025: (4, 7), 2026: (4, 27)}
_SEP_EXTRA = {2021: (9, 3), 2022: (9, 1), 2023: (9, 1), 2024: (9, 3),
              2025: (9, 1), 2026: (9, 1)}
_EXTRA_OFF = {2021: [(5, 3)], 2024: [(4, 29)], 2023: [(5, 3)]}
_WORKDAYS = {2024: [(5, 4)], 2023: [(4, 29)]}


class WorkCal:
    def __init__(self):
        self.hol = set()
        self.work = set()
        for y in range(2015, 2031):
            for mo, d in ((1, 1), (4, 30), (5, 1), (9, 2)):
                self.hol.add(dn_of(y, mo, d))
            if y in _TET:
                mo, d, n = _TET[y]
                s = dn_of(y, mo, d)
                self.hol.update(range(s, s + n))
            if y in _HUNG:
                self.hol.add(dn_of(y, *_HUNG[y]))
            if y in _SEP_EXTRA:
                self.hol.add(dn_of(y, *_SEP_EXTRA[y]))
            for md in _EXTRA_OFF.get(y, ()):
                self.hol.add(dn_of(y, *md))
            for md in _WORKDAYS.get(y, ()):
                self.work.add(dn_of(y, *md))

    def is_work(self, dn):
        if dn in self.work:
            return True
        if dn in self.hol:
            return False
        return weekday(dn) < 5

    def next_work(self, dn):
        """dn itself if a working day, else the next working day."""
        while not self.is_work(dn):
            dn += 1
        return dn

    def add(self, dn, k):
        while k > 0:
            dn += 1
            if self.is_work(dn):
                k -= 1
        return dn

    def count_between(self, a, b):
        """Working days d with a < d <= b."""
        return sum(1 for d in range(a + 1, b + 1) if self.is_work(d))


# ------------------------------------------------------------- names ----

HO = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng",
      "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Thạch", "Sơn", "Lâm", "Trương",
      "Danh", "Kim", "Tăng", "Quách", "Châu", "Triệu"]
DEM_M = ["Văn", "Minh", "Quốc", "Hữu", "Thanh", "Hoàng", "Đức", "Công", "Tấn",
         "Gia"]
DEM_F = ["Thị", "Ngọc", "Thanh", "Mỹ", "Kim", "Bích", "Thúy", "Hồng", "Diệu"]
# Applicant and officer given names are disjoint, so that an applicant's full
# name never equals an officer's (the leak test searches for them).
TEN_APP_M = ["An", "Bảo", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Khang",
             "Lộc", "Nhân", "Phúc", "Quân", "Sang", "Tài", "Thắng", "Trí",
             "Vinh", "Khôi", "Huy", "Kha", "Thịnh"]
TEN_APP_F = ["Anh", "Châu", "Diễm", "Giang", "Hạnh", "Hương", "Khánh", "Linh",
             "Mai", "Ngân", "Nhung", "Phương", "Quyên", "Thảo", "Trâm",
             "Uyên", "Vy", "Yến", "Ánh", "Trinh"]
TEN_OFF = ["Tuấn", "Hùng", "Nam", "Tâm", "Toàn", "Luân", "Triều", "Xuân",
           "Thu", "Hiền", "Nga", "Oanh", "Lan", "Loan", "Dung", "Phát", "Lực",
           "Thông", "Đông", "Hậu"]

STREETS = ["Trần Hưng Đạo", "Lê Lợi", "Hai Bà Trưng", "Nguyễn Huệ", "Lê Duẩn",
           "Phú Lợi", "Tôn Đức Thắng", "Mạc Đĩnh Chi", "Lý Thường Kiệt",
           "Điện Biên Phủ", "Sóc Vồ", "Võ Đình Sâm", "Nguyễn Văn Linh",
           "Quốc lộ 1A", "30 Tháng 4"]
ASCII = str.maketrans(
    "àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ"
    "ÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴÈÉẸẺẼÊỀẾỆỂỄÌÍỊỈĨÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠÙÚỤỦŨƯỪỨỰỬỮỲÝỴỶỸĐ",
    "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd"
    "AAAAAAAAAAAAAAAAAEEEEEEEEEEEIIIIIOOOOOOOOOOOOOOOOOUUUUUUUUUUUYYYYYD")


# ------------------------------------------------------------- units ----

DISTRICTS = [  # (name, kind, code)
    ("Sóc Trăng", "thành phố", "31"), ("Châu Thành", "huyện", "32"),
    ("Kế Sách", "huyện", "33"), ("Mỹ Tú", "huyện", "34"),
    ("Cù Lao Dung", "huyện", "35"), ("Long Phú", "huyện", "36"),
    ("Mỹ Xuyên", "huyện", "37"), ("Ngã Năm", "thị xã", "38"),
    ("Thạnh Trị", "huyện", "39"), ("Vĩnh Châu", "thị xã", "40"),
    ("Trần Đề", "huyện", "41"),
]
BASE_COMMUNES = [  # (district index, name)
    (1, "xã Phú Tân"), (2, "xã An Lạc Thôn"), (6, "thị trấn Mỹ Xuyên"),
    (9, "phường Vĩnh Phước"),
]
COMMUNE_PARTS = ["Phú", "Tân", "Hòa", "An", "Long", "Thạnh", "Mỹ", "Vĩnh",
                 "Lịch", "Hội", "Đại", "Trung", "Xuân", "Hưng", "Lợi", "Bình",
                 "Thới", "Phước", "Khánh", "Gia", "Tài", "Viên", "Hiệp", "Ngọc"]
SO_CODE = "000.00.23.H53"

# The sample's reorganisation, when asked for (World(reorg=True),
# onestop_sim.py --reorg; make demo): from 1 October of the year the
# education office of huyện Cù Lao Dung is merged into that of huyện Long
# Phú.  From that day its dossiers are recorded under Long Phú, but for a
# few (REORG_STILL_OLD) that its desk still records under the old code: the
# case the run's log and status report.  Off by default, so that every other
# test's data stays as it was.
REORG_FROM, REORG_TO = "000.12.35.H53", "000.12.36.H53"
REORG_STILL_OLD = 0.05


def reorg_lineage(year):
    """The lineage file (rules.md, "Units across reorganisations") of the
    sample's reorganisation in that year."""
    return ("from_code,to_code,effective,basis\n"
            "# Phòng GD&ĐT huyện Cù Lao Dung sáp nhập vào Phòng GD&ĐT huyện Long Phú\n"
            f"{REORG_FROM},{REORG_TO},{year}-10-01,Nghị quyết sáp nhập (mô phỏng)\n")


class Unit:
    __slots__ = ("code", "name", "parent", "level", "idx", "district",
                 "staff", "weight", "rename")


def build_units(rng, n):
    units = []

    def add(code, name, parent, level, district):
        u = Unit()
        u.code, u.name, u.parent, u.level = code, name, parent, level
        u.idx, u.district, u.rename = len(units), district, None
        units.append(u)
        return u

    add(SO_CODE, "Sở Giáo dục và Đào tạo tỉnh Sóc Trăng", None, "TINH", None)
    for i, (name, kind, code) in enumerate(DISTRICTS):
        add("000.12.%s.H53" % code,
            "Phòng Giáo dục và Đào tạo %s %s" % (kind, name),
            SO_CODE, "HUYEN", i)
    for di, name in BASE_COMMUNES:
        dcode = DISTRICTS[di][2]
        add("%03d.00.%s.H53" % (101 + len(units), dcode),
            "Ủy ban nhân dân %s, %s %s" % (name, DISTRICTS[di][1],
                                          DISTRICTS[di][0]),
            "000.12.%s.H53" % dcode, "XA", di)
    k = 0
    while len(units) < n:
        di = k % len(DISTRICTS)
        a = COMMUNE_PARTS[(k // 11) % len(COMMUNE_PARTS)]
        b = COMMUNE_PARTS[(k * 7 + 3) % len(COMMUNE_PARTS)]
        if a == b:
            b = COMMUNE_PARTS[(k * 7 + 4) % len(COMMUNE_PARTS)]
        num = k // (11 * len(COMMUNE_PARTS))
        nm = "xã %s %s%s" % (a, b, (" %d" % (num + 1)) if num else "")
        dcode = DISTRICTS[di][2]
        add("%03d.%02d.%s.H53" % (200 + k % 800, k // 800, dcode),
            "Ủy ban nhân dân %s, %s %s" % (nm, DISTRICTS[di][1],
                                          DISTRICTS[di][0]),
            "000.12.%s.H53" % dcode, "XA", di)
        k += 1
    del units[max(1, n):]
    # staff per unit: (name, title, department) by role
    for u in units:
        r = random.Random("staff:%d:%s" % (rng, u.code))
        if u.level == "TINH":
            desk = "Bộ phận Tiếp nhận và Trả kết quả - Sở GD&ĐT"
            depts = ["Phòng Giáo dục Trung học", "Phòng Giáo dục Mầm non - Tiểu học",
                     "Phòng Khảo thí và Kiểm định chất lượng giáo dục",
                     "Phòng Kế hoạch - Tài chính", "Phòng Tổ chức cán bộ"]
            lead_dept, lead_titles = "Ban Giám đốc Sở", ["Giám đốc Sở", "Phó Giám đốc Sở"]
            office = "Văn phòng Sở"
        elif u.level == "HUYEN":
            desk = "Bộ phận Một cửa"
            depts = ["Tổ chuyên môn Tiểu học", "Tổ chuyên môn Trung học cơ sở",
                     "Tổ chuyên môn Mầm non", "Bộ phận Kế hoạch - Tài chính"]
            lead_dept, lead_titles = "Lãnh đạo Phòng", ["Trưởng phòng", "Phó Trưởng phòng"]
            office = "Bộ phận Văn thư"
        else:
            desk = "Bộ phận Một cửa"
            depts = ["Công chức Văn hóa - Xã hội"]
            lead_dept, lead_titles = "Lãnh đạo UBND xã", ["Chủ tịch UBND xã", "Phó Chủ tịch UBND xã"]
            office = "Văn phòng - Thống kê"

        def person(r=r):
            male = r.random() < 0.5
            return "%s %s %s" % (r.choice(HO), r.choice(DEM_M if male else DEM_F),
                                 r.choice(TEN_OFF))
        st = {"desk": [(person(), "Công chức tiếp nhận hồ sơ", desk) for _ in range(3)],
              "pro": [(person(), r.choice(["Chuyên viên", "Chuyên viên chính",
                                           "Phó Trưởng phòng"]), d)
                      for d in depts for _ in range(2)],
              "lead": [(person(), t, lead_dept) for t in lead_titles],
              "office": [(person(), "Văn thư", office)]}
        u.staff = st
    return units


# ------------------------------------------------------------ catalogue --

# (MaTTHC, TenTTHC, level, MaLinhVuc, TenLinhVuc, MucDo, N, fee, weight)
LV_VB = ("G09-GD01", "Văn bằng, chứng chỉ")
LV_GDTH = ("G09-GD02", "Giáo dục trung học")
LV_GDMN = ("G09-GD03", "Giáo dục mầm non")
LV_GDTX = ("G09-GD04", "Giáo dục thường xuyên")
LV_CS = ("G09-GD05", "Các cơ sở giáo dục khác")
LV_TS = ("G09-GD06", "Thi, tuyển sinh")
LV_GDTI = ("G09-GD07", "Giáo dục tiểu học")
LV_PC = ("G09-GD08", "Giáo dục và Đào tạo thuộc hệ thống giáo dục quốc dân")

TEMPLATES = [
    ("1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "TINH", LV_VB, 3, 0, 1, 30),
    ("1.005095", "Chỉnh sửa nội dung văn bằng, chứng chỉ", "TINH", LV_VB, 3, 5, 0, 6),
    ("2.002478", "Công nhận văn bằng tốt nghiệp các cấp học phổ thông do cơ sở nước ngoài cấp", "TINH", LV_VB, 2, 20, 0, 2),
    ("1.004831", "Chuyển trường đối với học sinh trung học phổ thông", "TINH", LV_GDTH, 2, 3, 0, 20),
    ("1.005104", "Xin học lại tại trường khác đối với học sinh trung học", "TINH", LV_GDTH, 3, 3, 0, 5),
    ("1.001622", "Cho phép trường trung học phổ thông hoạt động giáo dục", "TINH", LV_GDTH, 2, 20, 0, 1),
    ("1.000713", "Thành lập trung tâm ngoại ngữ, tin học", "TINH", LV_CS, 3, 20, 1, 2),
    ("1.005070", "Cấp giấy chứng nhận đăng ký hoạt động dạy thêm, học thêm ngoài nhà trường", "TINH", LV_CS, 4, 10, 1, 8),
    ("2.001914", "Phúc khảo bài thi tốt nghiệp trung học phổ thông", "TINH", LV_TS, 4, 15, 1, 6),
    ("1.008723", "Cấp giấy phép tổ chức hoạt động giáo dục kỹ năng sống", "TINH", LV_CS, 3, 15, 1, 2),
    ("1.004888", "Công nhận trường trung học đạt chuẩn quốc gia", "TINH", LV_GDTH, 2, 20, 0, 2),
    ("1.005058", "Đăng ký dự thi tốt nghiệp trung học phổ thông đối với thí sinh tự do", "TINH", LV_TS, 4, 5, 1, 5),
    ("1.001088", "Sáp nhập, chia, tách trường trung học phổ thông", "TINH", LV_GDTH, 2, 20, 0, 1),
    ("1.005067", "Thành lập trường trung học phổ thông công lập", "TINH", LV_GDTH, 1, 20, 0, 1),
    ("1.000288", "Cho phép hoạt động giáo dục đối với trung tâm giáo dục thường xuyên", "TINH", LV_GDTX, 2, 15, 0, 1),
    ("2.000162", "Cấp giấy chứng nhận, chứng chỉ bồi dưỡng \"kỹ năng mềm\", tin học ứng dụng", "TINH", LV_VB, 3, 7, 1, 3),
    ("1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "HUYEN", LV_VB, 3, 0, 1, 25),
    ("1.004494", "Chuyển trường đối với học sinh trung học cơ sở", "HUYEN", LV_GDTH, 3, 3, 0, 25),
    ("1.004545", "Cho phép trường tiểu học hoạt động giáo dục", "HUYEN", LV_GDTI, 2, 20, 0, 2),
    ("1.004563", "Công nhận trường tiểu học đạt chuẩn quốc gia", "HUYEN", LV_GDTI, 2, 20, 0, 2),
    ("1.004439", "Thành lập trường mầm non công lập, cho phép thành lập trường mầm non dân lập", "HUYEN", LV_GDMN, 2, 20, 0, 1),
    ("1.004515", "Cho phép trường trung học cơ sở hoạt động giáo dục", "HUYEN", LV_GDTH, 2, 20, 0, 1),
    ("1.005099", "Xét, duyệt chính sách hỗ trợ đối với học sinh bán trú đang học tại các trường tiểu học, trung học cơ sở", "HUYEN", LV_PC, 3, 10, 0, 8),
    ("1.004442", "Công nhận xã đạt chuẩn phổ cập giáo dục, xóa mù chữ", "HUYEN", LV_PC, 2, 10, 0, 2),
    ("2.001818", "Hỗ trợ ăn trưa đối với trẻ em mẫu giáo", "HUYEN", LV_GDMN, 4, 10, 0, 10),
    ("1.004475", "Chuyển đổi trường tiểu học tư thục, trường trung học cơ sở tư thục sang trường tư thục hoạt động không vì lợi nhuận", "HUYEN", LV_GDTI, 2, 20, 0, 1),
    ("1.004443", "Cho phép trung tâm học tập cộng đồng hoạt động trở lại", "XA", LV_GDTX, 2, 5, 0, 3),
    ("1.004444", "Cho phép trung tâm học tập cộng đồng hoạt động", "XA", LV_GDTX, 2, 10, 0, 3),
    ("1.004492", "Cho phép nhóm trẻ, lớp mẫu giáo độc lập hoạt động giáo dục", "XA", LV_GDMN, 3, 15, 0, 4),
    ("1.005090", "Giải thể nhóm trẻ, lớp mẫu giáo độc lập (theo đề nghị của tổ chức, cá nhân)", "XA", LV_GDMN, 2, 10, 0, 1),
]
SYN_VERBS = ["Cấp phép hoạt động cho", "Công nhận", "Cho phép hoạt động", "Thành lập", "Sáp nhập, chia, tách",
             "Giải thể", "Đăng ký", "Xét duyệt", "Điều chỉnh", "Gia hạn"]
SYN_OBJS = ["trường mầm non tư thục", "trường tiểu học tư thục", "trường trung học cơ sở",
            "trung tâm ngoại ngữ, tin học", "cơ sở giáo dục mầm non dân lập",
            "lớp năng khiếu thể dục thể thao", "học bổng chính sách",
            "chế độ hỗ trợ học sinh khuyết tật", "trường phổ thông dân tộc nội trú",
            "trường phổ thông dân tộc bán trú", "hội đồng trường", "cơ sở giáo dục nghề nghiệp"]
LEVEL_PREFIX = {"TINH": 1, "HUYEN": 2, "XA": 3}


def synthetic_template(level, k):
    """The k-th (0-based) extra procedure of a level, same for every unit."""
    r = random.Random("syn:%s:%d" % (level, k))
    verb = SYN_VERBS[k % len(SYN_VERBS)]
    obj = SYN_OBJS[(k // len(SYN_VERBS)) % len(SYN_OBJS)]
    rep = k // (len(SYN_VERBS) * len(SYN_OBJS))
    name = "%s %s" % (verb, obj) + (" (thủ tục liên thông số %d)" % (rep + 1) if rep else "")
    code = "2.9%d%04d" % (LEVEL_PREFIX[level], k % 10000)
    lv = r.choice([LV_CS, LV_GDTH, LV_GDMN, LV_GDTX, LV_PC, LV_GDTI])
    return (code, name, level, lv, r.choice([2, 2, 3, 3, 4]), r.choice([0, 3, 5, 7, 10, 15, 20]),
            1 if r.random() < 0.3 else 0, 1)


class CatVersion:
    __slots__ = ("cnl", "mucdo", "n", "fee", "active", "row")


class CatEntry:
    __slots__ = ("unit", "code", "name", "lv", "versions", "weight")


def dept_for(unit, code):
    pros = unit.staff["pro"]
    h = sum(ord(c) for c in code)
    return pros[(h * 2) % len(pros)][2]


# ------------------------------------------------------------- world ----

class World:
    def __init__(self, seed=42, year=2021, dossiers=3000, units=None,
                 procedures=None, reorg=False):
        self.seed = seed
        self.year = year
        self.reorg_effective = mkts(year, 10, 1) if reorg else None
        self.n_dossiers = dossiers
        self.cal = WorkCal()
        self.year_start = mkts(year, 1, 1)
        self.year_end = mkts(year + 1, 1, 1)
        self.default_now = mkts(year + 1, 1, 15)
        n_units = units if units else 1 + len(DISTRICTS) + len(BASE_COMMUNES)
        self.units = build_units(seed, max(1, n_units))
        self.unit_by_code = {u.code: u for u in self.units}
        self._build_catalogue(procedures)
        self._versions = None

    # catalogue --------------------------------------------------------
    def _build_catalogue(self, total):
        rng = random.Random("cat:%d:%d" % (self.seed, self.year))
        by_level = {lvl: [t for t in TEMPLATES if t[2] == lvl]
                    for lvl in ("TINH", "HUYEN", "XA")}
        per_unit = {u.code: [] for u in self.units}
        if total is None:
            for u in self.units:
                per_unit[u.code] = list(by_level[u.level])
        else:
            nxt = {u.code: 0 for u in self.units}
            count = 0
            while count < total:
                for u in self.units:
                    if count >= total:
                        break
                    k = nxt[u.code]
                    nxt[u.code] += 1
                    base = by_level[u.level]
                    t = base[k] if k < len(base) else synthetic_template(u.level, k - len(base))
                    per_unit[u.code].append(t)
                    count += 1
        self.catalogue = {}          # (unit, code) -> CatEntry
        self.unit_procs = {}         # unit -> ([codes], [cum weights])
        base_cnl = mkts(self.year - 1, 12, 1, 8, 0, 0)
        change_guaranteed = False
        for u in self.units:
            codes, cum, acc = [], [], 0.0
            for t in per_unit[u.code]:
                code, name, _lvl, lv, mucdo, n, fee, w = t
                e = CatEntry()
                e.unit, e.code, e.name, e.lv, e.weight = u.code, code, name, lv, w
                v = CatVersion()
                v.cnl = base_cnl + rng.randrange(0, 20 * DAY) + rng.randrange(0, 9 * 3600)
                v.mucdo, v.n, v.fee, v.active = mucdo, n, fee, 1
                if rng.random() < 0.03 and w <= 2:
                    v.active = 0             # listed but not in force
                e.versions = [v]
                # mid-year changes: online level up (sometimes N down)
                want = (not change_guaranteed and u.code == SO_CODE and code == "1.004831")
                if want or (mucdo < 4 and rng.random() < 0.06):
                    v2 = CatVersion()
                    if want:
                        v2.cnl = mkts(self.year, 6, 15, 10, 0, 0)
                        change_guaranteed = True
                    else:
                        v2.cnl = mkts(self.year, 3, 1, 8) + rng.randrange(0, 200 * DAY) + rng.randrange(0, 9 * 3600)
                    v2.mucdo = max(3, mucdo + 1) if mucdo < 4 else 4
                    v2.n = n if rng.random() < 0.6 or n < 3 else n - 2
                    v2.fee, v2.active = v.fee, v.active
                    e.versions.append(v2)
                elif rng.random() < 0.01:
                    v2 = CatVersion()          # abolished mid-year
                    v2.cnl = mkts(self.year, 7, 1, 8) + rng.randrange(0, 90 * DAY)
                    v2.mucdo, v2.n, v2.fee, v2.active = mucdo, n, fee, 0
                    e.versions.append(v2)
                for ver in e.versions:
                    ver.row = self._cat_row(rng, e, ver)
                self.catalogue[(u.code, code)] = e
                if v.active:
                    acc += w
                    codes.append(code)
                    cum.append(acc)
            self.unit_procs[u.code] = (codes, cum)
        # dossier weights per unit
        lw = {"TINH": 30.0, "HUYEN": 6.0, "XA": 0.6}
        self.unit_cum, acc = [], 0.0
        self.unit_list = []
        for u in self.units:
            if not self.unit_procs[u.code][0]:
                continue
            w = lw[u.level] * (1.6 if u.code == "000.12.31.H53" else 1.0)
            acc += w
            self.unit_cum.append(acc)
            self.unit_list.append(u)

    def _cat_row(self, rng, e, v):
        if v.mucdo == 1:
            md = None if rng.random() < 0.7 else 1
        elif v.mucdo == 3 and rng.random() < 0.25:
            md = Disp(3, rng.choice(["MOT_PHAN", "MOT_PHAN", "Mot_Phan"]))
        elif v.mucdo == 4 and rng.random() < 0.25:
            md = Disp(4, rng.choice(["TOAN_TRINH", "TOAN_TRINH", "toan_trinh"]))
        else:
            md = v.mucdo
        fee = v.fee
        if fee == 0 and rng.random() < 0.2:
            fee = None                       # empty = 0
        act = v.active
        if act == 1 and rng.random() < 0.15:
            act = None                       # empty = 1
        name = e.name
        if rng.random() < 0.05:
            name = name + " "                # trimmed
        return {
            "MaDonVi": e.unit, "MaTTHC": e.code, "TenTTHC": name,
            "MaLinhVuc": e.lv[0], "TenLinhVuc": e.lv[1], "MucDo": md,
            "ThoiHanGiaiQuyet": v.n if rng.random() < 0.95 else Disp(v.n, "%02d" % v.n),
            "CoPhiLePhi": fee, "DangApDung": act,
            "CapNhatLuc": mkts_styled(rng, v.cnl),
            EXTRA_COL: rng.choice(["", "", "Đã rà soát theo Quyết định công bố",
                                   "Cập nhật, bổ sung; chờ công khai"]),
        }

    def version_at(self, entry, t):
        """Catalogue version in force at t (latest cnl <= t, else earliest)."""
        best = entry.versions[0]
        for v in entry.versions:
            if v.cnl <= t:
                best = v
        return best

    # all versions -------------------------------------------------------
    def versions(self):
        """entity -> (sorted [(cnl, key, row)], [cnl])."""
        if self._versions is not None:
            return self._versions
        out = {e: [] for e in ENTITIES}
        rng = random.Random("donvi:%d" % self.seed)
        base = mkts(self.year - 1, 11, 20, 9, 0, 0)
        renamed = 0
        for u in self.units:
            cnl = base + rng.randrange(0, 10 * DAY)
            row = {"MaDonVi": u.code, "TenDonVi": u.name, "MaDonViCha": u.parent,
                   "CapDonVi": u.level, "CapNhatLuc": mkts_styled(rng, cnl),
                   EXTRA_COL: ""}
            if u.level == "HUYEN" and renamed < 2:
                # first published with an abbreviated name, renamed mid-year
                row["TenDonVi"] = u.name.replace("Phòng Giáo dục và Đào tạo", "Phòng GD&ĐT")
                out["donvi"].append((cnl, (u.code,), row))
                cnl2 = mkts(self.year, 4 + 3 * renamed, 5, 14, 20, 0)
                row = dict(row, TenDonVi=u.name, CapNhatLuc=mkts_styled(rng, cnl2),
                           GhiChuNoiBo="Đổi tên theo Quyết định, cập nhật")
                renamed += 1
                cnl = cnl2
            out["donvi"].append((cnl, (u.code,), row))
        for e in self.catalogue.values():
            for v in e.versions:
                out["thutuc"].append((v.cnl, (e.unit, e.code), v.row))
        for i in range(self.n_dossiers):
            d = gen_dossier(self, i)
            out["hoso"].extend(d[0])
            out["bosung"].extend(d[1])
            out["quatrinh"].extend(d[2])
        res = {}
        for e, lst in out.items():
            lst.sort(key=lambda x: (x[0], x[1]))
            res[e] = (lst, [x[0] for x in lst])
        self._versions = res
        return res

    def snapshot(self, now, overrides=None):
        """entity -> sorted [(cnl, key, row)] visible at `now`."""
        allv = self.versions()
        snap = {}
        for e in ENTITIES:
            lst, cnls = allv[e]
            k = bisect.bisect_right(cnls, now)
            if e == "thutuc":
                vis = lst[:k]
            else:
                latest = {}
                for item in lst[:k]:
                    latest[item[1]] = item
                vis = list(latest.values())
            if overrides:
                vis = apply_overrides(e, vis, overrides, now)
            vis.sort(key=lambda x: (x[0], x[1]))
            snap[e] = vis
        return snap


def apply_overrides(entity, vis, overrides, now):
    """Rows bumped by mutate_between_pages: a new version with a later
    CapNhatLuc (for thutuc: an extra catalogue version, same content)."""
    ov = overrides.get(entity)
    if not ov:
        return vis
    if entity == "thutuc":
        latest = {}
        for item in vis:
            latest[item[1]] = item
        extra = []
        for key, tlist in ov.items():
            for t in tlist:
                if t <= now and key in latest and latest[key][0] < t:
                    src = max((x for x in vis if x[1] == key and x[0] < t), key=lambda x: x[0])
                    extra.append((t, key, dict(src[2], CapNhatLuc=TS(t))))
        return vis + extra
    res = []
    for item in vis:
        tl = ov.get(item[1])
        if tl:
            t = max((x for x in tl if x <= now), default=None)
            if t is not None and t > item[0]:
                item = (t, item[1], dict(item[2], CapNhatLuc=TS(t)))
        res.append(item)
    return res


# ----------------------------------------------------------- dossiers ----

def office_time(rng, dn):
    x = rng.random()
    if x < 0.55:
        s = 7 * 3600 + 1800 + rng.randrange(0, 4 * 3600)
    else:
        s = 13 * 3600 + 1800 + rng.randrange(0, 3 * 3600 + 1800)
    return dn * DAY + s


def person(rng):
    male = rng.random() < 0.5
    return male, "%s %s %s" % (rng.choice(HO), rng.choice(DEM_M if male else DEM_F),
                               rng.choice(TEN_APP_M if male else TEN_APP_F))


def applicant(rng, unit, year):
    male, name = person(rng)
    by = rng.randrange(year - 60, year - 15)
    bdn = dn_of(by, 1, 1) + rng.randrange(0, 365)
    cccd = "094%d%02d%06d" % ((0 if male else 1) + (2 if by >= 2000 else 0), by % 100,
                              rng.randrange(0, 1000000))
    phone = "0%s%08d" % (rng.choice("3789"), rng.randrange(0, 100000000))
    asc = name.translate(ASCII).lower().split()
    email = None
    if rng.random() < 0.6:
        email = "%s%s%d@%s" % (asc[-1], "".join(p[0] for p in asc[:-1]), rng.randrange(1, 999),
                               rng.choice(["gmail.com", "gmail.com", "yahoo.com", "soctrang.edu.vn"]))
    di = unit.district if unit.district is not None else rng.randrange(len(DISTRICTS))
    dname, dkind = DISTRICTS[di][0], DISTRICTS[di][1]
    if rng.random() < 0.5:
        addr = "Số %d, đường %s, Phường %d, %s %s, tỉnh Sóc Trăng" % (
            rng.randrange(1, 400), rng.choice(STREETS), rng.randrange(1, 11), dkind, dname)
    else:
        addr = "Ấp %s %s, xã %s %s, %s %s, tỉnh Sóc Trăng" % (
            rng.choice(COMMUNE_PARTS), rng.choice(COMMUNE_PARTS), rng.choice(COMMUNE_PARTS),
            rng.choice(COMMUNE_PARTS), dkind, dname)
    return {"ChuHoSo": name, "SoGiayToChuHoSo": cccd, "SoDienThoai": phone, "Email": email,
            "DiaChi": addr, "NgaySinh": TS(bdn * DAY, rng.choice((ST_DATE, ST_DATEISO, ST_DATEISO)))}


def code_disp(rng, n):
    x = rng.random()
    if x < 0.94:
        return n
    if x < 0.97:
        return Disp(n, "%02d" % n)
    return Disp(n, " %d " % n)


TXT_SUPP = ['Đề nghị bổ sung: "Bản sao giấy khai sinh", học bạ bản chính\r\nThời hạn bổ sung: 05 ngày làm việc',
            "Đề nghị bổ sung đơn đề nghị (theo mẫu), bản sao CCCD",
            'Hồ sơ thiếu "Tờ khai", đề nghị bổ sung; liên hệ Bộ phận Một cửa']
NOTES = ["", "", "", "", "Đã gọi điện nhắc nhở", "Hồ sơ ưu tiên, xử lý sớm",
         "Kiểm tra lại, \"đã đối chiếu\" bản chính", "Ghi chú nội bộ:\nchờ xác minh"]


def reorganised(w, i, r, unit, code, entry):
    """(unit, procedure code, catalogue entry) of dossier i received at r,
    once the sample's reorganisation has taken effect (World(reorg=True)).
    Its own generator: the other dossiers stay as they are without it."""
    if (w.reorg_effective is None or unit.code != REORG_FROM or r < w.reorg_effective
            or REORG_TO not in w.unit_by_code):
        return unit, code, entry
    rng = random.Random("reorg:%d:%d" % (w.seed, i))
    if rng.random() < REORG_STILL_OLD:
        return unit, code, entry
    unit = w.unit_by_code[REORG_TO]
    if entry is None:
        return unit, code, None
    if (unit.code, code) not in w.catalogue:
        codes, cum = w.unit_procs[unit.code]
        code = codes[bisect.bisect_left(cum, rng.random() * cum[-1])]
    return unit, code, w.catalogue[(unit.code, code)]


def gen_dossier(w, i):
    """All row versions of dossier i: ([hoso], [bosung], [quatrinh]) each a
    list of (cnl, key, row)."""
    rng = random.Random(w.seed * 1000003 + i * 7919 + 17)
    cal = w.cal
    # unit and procedure
    x = rng.random() * w.unit_cum[-1]
    unit = w.unit_list[bisect.bisect_left(w.unit_cum, x)]
    codes, cum = w.unit_procs[unit.code]
    orphan = rng.random() < 0.015
    if orphan:
        code = rng.choice(["1.999%03d" % rng.randrange(1000), "2.001999", "1.004494", "1.004831"])
        if (unit.code, code) in w.catalogue:
            code = "1.999%03d" % rng.randrange(1000)
        entry = None
    else:
        code = codes[bisect.bisect_left(cum, rng.random() * cum[-1])]
        entry = w.catalogue[(unit.code, code)]
    # receipt instant
    ydays = (w.year_end - w.year_start) // DAY
    dn = w.year_start // DAY + rng.randrange(ydays)
    xr = rng.random()
    if xr < 0.04:
        r = dn * DAY + rng.randrange(7 * 3600, 20 * 3600)          # any day
    else:
        dn2 = cal.next_work(dn)
        if dn2 >= w.year_end // DAY:
            dn2 = dn
        if xr < 0.12:
            r = dn2 * DAY + rng.randrange(17 * 3600, 20 * 3600 + 1800)  # after 17:00
        else:
            r = office_time(rng, dn2)
    unit, code, entry = reorganised(w, i, r, unit, code, entry)
    if entry is not None:
        ver = w.version_at(entry, r)
        n_days, mucdo, fee = ver.n, ver.mucdo, ver.fee
    else:
        n_days, mucdo, fee = rng.choice([3, 5, 7, 10]), 2, 0
    # channel
    xc = rng.random()
    if mucdo >= 3:
        ch = 2 if xc < 0.55 else (1 if xc < 0.95 else 3)
    else:
        ch = 1 if xc < 0.9 else (3 if xc < 0.98 else 2)
    # fate
    xf = rng.random()
    if xf < 0.01:
        fate = 1
    elif xf < 0.03:
        fate = 3
    elif xf < 0.06:
        fate = 7
    elif xf < 0.075:
        fate = 6
    elif xf < 0.085:
        fate = 8
    elif xf < 0.095:
        fate = 2
    elif xf < 0.11:
        fate = 4
    else:
        fate = 9                      # resolved (9 or 10), or 5 when supplement never returns
    if fate == 1:
        ch = 2
    mahoso = "%s-%s-%05d" % (unit.code, time.strftime("%y%m%d", time.gmtime(r)), i + 1)
    eff = dn_r = r // DAY
    if not (cal.is_work(dn_r) and r - dn_r * DAY < 17 * 3600):
        eff = cal.next_work(dn_r + 1)
    # submission
    if ch == 2:
        nop = r - rng.randrange(600, 2 * DAY)
    elif ch == 3:
        nop = r - rng.randrange(DAY, 3 * DAY)
    else:
        nop = r - rng.randrange(60, 1800) if rng.random() < 0.5 else None
    app = applicant(rng, unit, w.year)
    staff = unit.staff
    desk = rng.choice(staff["desk"])
    pro = rng.choice([p for p in staff["pro"] if p[2] == dept_for(unit, code)] or staff["pro"])
    lead = rng.choice(staff["lead"])
    paid = None
    if fee and ch == 2 and rng.random() < 0.45:
        paid = code_disp(rng, 1)
    elif rng.random() < 0.6:
        paid = 0
    st = {k: pick_style(rng) for k in ("nop", "tn", "kt", "tra", "cnl")}
    due_midnight = rng.random() < 0.15

    def due_ts(ddn):
        return TS(ddn * DAY, pick_style(rng, True)) if due_midnight else \
            TS(ddn * DAY + 17 * 3600, st["tn"])

    base = {"MaHoSo": mahoso, "MaDonVi": unit.code, "MaTTHC": code,
            "KenhThucHien": code_disp(rng, ch), "TrangThaiHoSo": 1,
            "NgayNopHoSo": TS(nop, st["nop"]) if nop is not None else None,
            "NgayTiepNhan": None, "NgayHenTra": None, "NgayKetThucXuLy": None,
            "NgayTra": None, "DuocThanhToanTrucTuyen": paid, EXTRA_COL: ""}
    base.update(app)
    events = []        # (t, changes)
    steps = []         # (logical t, TrangThai, t_done, who, content, start, deadline, cnl)
    supps = []         # (req, ret or None, due_before, due_after)

    if fate in (1, 3):
        if nop is not None:
            events.append((nop, {"TrangThaiHoSo": 1}))
        if fate == 3:
            tref = r if nop is None else max(r, nop + 600)
            events.append((tref, {"TrangThaiHoSo": 3}))
            steps.append((tref, 3, tref, desk, "Từ chối tiếp nhận: thủ tục không thuộc thẩm quyền giải quyết, "
                          "hướng dẫn nộp tại cơ quan có thẩm quyền", nop, None, tref + 30))
        return _emit(w, rng, mahoso, base, events, steps, supps, st)

    # received
    push = 0
    masked = rng.random() < 0.07 and fate == 9
    push_at_receipt = masked and rng.random() < 0.5
    if push_at_receipt:
        push = rng.randrange(2, 6)
    due0 = cal.add(eff, n_days + push)
    if nop is not None and ch != 1:
        events.append((nop, {"TrangThaiHoSo": 1}))
    events.append((r, {"TrangThaiHoSo": 2, "NgayTiepNhan": TS(r, st["tn"]), "NgayHenTra": due_ts(due0)}))
    typed_late = rng.random() < 0.06
    t_rec = r + rng.randrange(30, 900)
    if typed_late:
        t_rec = r + rng.randrange(2 * DAY, 9 * DAY)
    steps.append((r, 2, t_rec, desk, "Tiếp nhận hồ sơ, chuyển phòng chuyên môn xử lý",
                  nop if nop is not None else r, eff * DAY + 17 * 3600, t_rec + rng.randrange(0, 60)))
    bdn = cal.add(eff, 1 if n_days >= 2 and rng.random() < 0.3 else 0)
    B = office_time(rng, bdn)
    if B <= r + 600:
        B = r + rng.randrange(900, 3 * 3600)
    no_proc_step = rng.random() < 0.04
    events.append((B, {"TrangThaiHoSo": 4}))
    if not no_proc_step:
        steps.append((B, 4, B, rng.choice(staff["office"] + staff["desk"]),
                      "Chuyển hồ sơ đến %s" % pro[2], r,
                      cal.add(eff, max(0, n_days // 5)) * DAY + 17 * 3600, B + rng.randrange(5, 300)))
    # supplements
    ext_days = set()
    cur_due = due0
    last = B
    nsup = 0
    if rng.random() < 0.15 or fate == 5:
        nsup = 1 if rng.random() < 0.7 else 2
    outstanding_last = fate == 9 and nsup and rng.random() < 0.12
    if outstanding_last:
        fate = 5
    req = None
    prev_ret = None
    for k in range(nsup):
        if k == 0:
            rdn = cal.add(max(B // DAY, eff), rng.randrange(0, max(1, n_days // 2) + 1))
            req = max(office_time(rng, rdn), B + 600)
        else:
            if prev_ret is not None and rng.random() < 0.4 and prev_ret - req > 2 * DAY:
                req = req + rng.randrange(DAY, prev_ret - req - 3600)       # overlapping
            else:
                base_t = prev_ret if prev_ret is not None else req
                req = max(office_time(rng, cal.add(base_t // DAY, rng.randrange(1, 3))), base_t + 600)
        ret = None
        if not (outstanding_last and k == nsup - 1):
            ret = req + rng.randrange(DAY, 7 * DAY) + rng.randrange(0, 3600)
        supps.append([req, ret, cur_due, None])
        prev_ret = ret
        if ret is None:
            break
    # due date after supplements, in event order
    sup_events = []
    for j, s in enumerate(supps):
        sup_events.append((s[0], "req", j))
        if s[1] is not None:
            sup_events.append((s[1], "ret", j))
    sup_events.sort()
    outstanding = 0
    for t, kind, j in sup_events:
        s = supps[j]
        if kind == "req":
            outstanding += 1
            s[2] = cur_due
            events.append((t, {"TrangThaiHoSo": 5}))
            steps.append((t, 5, t, pro, TXT_SUPP[rng.randrange(len(TXT_SUPP))], last,
                          None, t + rng.randrange(5, 600)))
        else:
            outstanding -= 1
            for d in range(s[0] // DAY + 1, s[1] // DAY + 1):
                if cal.is_work(d):
                    ext_days.add(d)
            cur_due = cal.add(eff, n_days + push + len(ext_days))
            s[3] = cur_due
            ch_ = {"NgayHenTra": due_ts(cur_due)}
            if outstanding == 0:
                ch_["TrangThaiHoSo"] = 4
            events.append((t, ch_))
            steps.append((t, 4, t, desk, "Tiếp nhận hồ sơ bổ sung, chuyển %s tiếp tục xử lý" % pro[2],
                          s[0], None, t + rng.randrange(5, 600)))
        last = max(last, t)
    legal_due = cal.add(eff, n_days + len(ext_days))
    declared = cur_due
    if fate == 9 and masked and not push_at_receipt:
        push = rng.randrange(2, 6)
        declared = cal.add(cur_due, push)
        tap = max(last + 600, office_time(rng, max(legal_due - 1, last // DAY)))
        events.append((tap, {"NgayHenTra": due_ts(declared)}))
        steps.append((tap, 4, tap, lead, "Phiếu xin lỗi và hẹn lại ngày trả kết quả", last, None,
                      tap + rng.randrange(5, 600)))
        last = tap
    # finish
    lo = max(last // DAY, eff)
    xo = rng.random()
    if masked:
        cands = [d for d in range(legal_due + 1, declared + 1) if cal.is_work(d) and d >= lo]
        fdn = cands[rng.randrange(len(cands))] if cands else max(lo, legal_due + 1)
    elif xo < 0.45 and declared - 1 >= lo:
        cands = [d for d in range(max(lo, declared - 8), declared) if cal.is_work(d)]
        fdn = cands[rng.randrange(len(cands))] if cands else declared
    elif xo < 0.8:
        fdn = max(declared, lo)
    else:
        fdn = cal.add(max(declared, lo), rng.randrange(1, 9))
    f = office_time(rng, fdn)
    if f <= last + 1800:
        f = last + rng.randrange(900, 2 * 3600)
        if f // DAY != last // DAY or f % DAY > 19 * 3600:
            fdn = cal.next_work(f // DAY + (1 if f % DAY > 12 * 3600 else 0))
            f = office_time(rng, fdn)
    # steps between B and f
    s0 = last                         # after receipt, supplements, apology
    mid1 = s0 + (f - s0) * 2 // 5 + rng.randrange(0, 60)
    mid2 = s0 + (f - s0) * 4 // 5 + rng.randrange(0, 60)
    if f - s0 > DAY:
        a = office_time(rng, cal.next_work(s0 // DAY + (f // DAY - s0 // DAY) * 2 // 5))
        b = office_time(rng, cal.next_work(s0 // DAY + (f // DAY - s0 // DAY) * 4 // 5))
        if s0 < a < b < f:
            mid1, mid2 = a, b
    if not no_proc_step:
        steps.append((mid1, 4, mid1, pro, "Thẩm định hồ sơ: hồ sơ đầy đủ, hợp lệ theo quy định",
                      B, cal.add(eff, max(0, n_days * 3 // 5)) * DAY + 17 * 3600,
                      mid1 + rng.randrange(5, 900)))
        steps.append((mid2, 4, mid2, lead, "Trình lãnh đạo ký duyệt, ban hành văn bản",
                      mid1, TS(cal.add(eff, max(0, n_days * 9 // 10)) * DAY, ST_DATEISO),
                      mid2 + rng.randrange(5, 900)))
    if fate == 9:
        events.append((f, {"TrangThaiHoSo": 9, "NgayKetThucXuLy": TS(f, st["kt"])}))
        no_end_step = rng.random() < 0.03
        if not no_end_step:
            steps.append((f, 9, f, lead, "Hoàn thành xử lý, chuyển kết quả về Bộ phận Một cửa",
                          mid2, legal_due * DAY + 17 * 3600, f + rng.randrange(5, 600)))
        last_ev = f
        if rng.random() < 0.8:
            if ch == 2 and rng.random() < 0.6:
                tra = f + rng.randrange(600, 4 * 3600)
            else:
                tra = office_time(rng, fdn + rng.randrange(0, 6))
                if tra <= f:
                    tra = f + rng.randrange(600, 3600)
            events.append((tra, {"TrangThaiHoSo": 10, "NgayTra": TS(tra, st["tra"])}))
            if not no_end_step:
                steps.append((tra, 10, tra, desk, "Trả kết quả cho tổ chức, cá nhân", f,
                              None, tra + rng.randrange(5, 600)))
            last_ev = tra
        # late correction: an old dossier updated much later
        if rng.random() < 0.015:
            tc = last_ev + rng.randrange(30 * DAY, 120 * DAY)
            events.append((tc, {"DuocThanhToanTrucTuyen": 1 if fee else 0,
                                EXTRA_COL: "Điều chỉnh dữ liệu theo rà soát"}))
        return _emit(w, rng, mahoso, base, events, steps, supps, st)
    if fate == 2:                     # received, never moved on
        events[:] = [e for e in events if e[1].get("TrangThaiHoSo") in (1, 2) and e[0] <= r]
        steps[:] = [s for s in steps if s[1] == 2]
        supps[:] = []
        return _emit(w, rng, mahoso, base, events, steps, supps, st)
    if fate == 5:                     # the last supplement never came back
        term = supps[-1][0]
    else:
        term = r + rng.randrange(3600, max(2 * 3600, f - r))
    events[:] = [e for e in events if e[0] <= term]
    steps[:] = [s for s in steps if s[0] <= term]
    supps[:] = [s for s in supps if s[0] <= term]
    for s in supps:
        if s[1] is not None and s[1] > term:
            s[1] = None
            s[3] = None
    if fate == 7:
        ch_ = {"TrangThaiHoSo": 7}
        if rng.random() < 0.3:
            ch_["NgayHenTra"] = None
        events.append((term + 1, ch_))
        steps.append((term + 1, 7, term + 1, desk, "Tổ chức, cá nhân có đơn xin rút hồ sơ", r, None,
                      term + rng.randrange(5, 600)))
    elif fate == 6:
        events.append((term + 1, {"TrangThaiHoSo": 6}))
        steps.append((term + 1, 6, term + 1, pro, "Thông báo thực hiện nghĩa vụ tài chính (nộp phí, lệ phí)",
                      B, None, term + rng.randrange(5, 600)))
    elif fate == 8:
        events.append((term + 1, {"TrangThaiHoSo": 8}))
        steps.append((term + 1, 8, term + 1, lead, "Dừng xử lý: hồ sơ không đủ điều kiện theo quy định",
                      B, None, term + rng.randrange(5, 600)))
    elif fate == 4 and not any(e[1].get("TrangThaiHoSo") == 4 for e in events):
        events.append((term + 1, {"TrangThaiHoSo": 4}))
    return _emit(w, rng, mahoso, base, events, steps, supps, st)


def _emit(w, rng, mahoso, base, events, steps, supps, st):
    hoso, bosung, quatrinh = [], [], []
    events.sort(key=lambda e: e[0])
    cur = dict(base)
    prev = None
    key = (mahoso,)
    for t, ch in events:
        cur.update(ch)
        cnl = t + rng.randrange(0, 120)
        if prev is not None and cnl <= prev:
            cnl = prev + 1
        prev = cnl
        row = dict(cur)
        row["CapNhatLuc"] = TS(cnl, st["cnl"] if rng.random() < 0.7 else pick_style(rng))
        if "TrangThaiHoSo" in ch and ch["TrangThaiHoSo"] in (9, 10) and rng.random() < 0.1:
            row["TrangThaiHoSo"] = code_disp(rng, ch["TrangThaiHoSo"])
        hoso.append((cnl, key, row))
    for j, s in enumerate(supps):
        req, ret, before, after = s
        k = (mahoso, j + 1)
        row = {"MaHoSo": mahoso, "ThuTu": j + 1, "NgayBoSung": mkts_styled(rng, req),
               "NgayTiepNhanBoSung": None,
               "NgayHenTraTruoc": TS(before * DAY + 17 * 3600, pick_style(rng)) if before else None,
               "NgayHenTraMoi": None, "TrangThaiBoSung": "1", EXTRA_COL: ""}
        c1 = req + rng.randrange(1, 120)
        bosung.append((c1, k, row))
        if ret is not None:
            row2 = dict(row, NgayTiepNhanBoSung=mkts_styled(rng, ret), TrangThaiBoSung="2",
                        NgayHenTraMoi=TS(after * DAY + 17 * 3600, pick_style(rng)) if after else None)
            c2 = max(ret + rng.randrange(1, 120), c1 + 1)
            row2["CapNhatLuc"] = mkts_styled(rng, c2)
            bosung.append((c2, k, row2))
        row["CapNhatLuc"] = mkts_styled(rng, c1)
    steps.sort(key=lambda s: s[0])
    for j, s in enumerate(steps):
        logical, tt, done, who, content, start, deadline, cnl = s
        if start is not None and start > done:
            start = None
        dl = deadline
        if type(dl) is int:
            dl = TS(dl, pick_style(rng))
        row = {"MaHoSo": mahoso, "ThuTu": j + 1, "TrangThai": code_disp(rng, tt),
               "ThoiDiemXuLy": mkts_styled(rng, done), "PhongBanXuLy": who[2],
               "NguoiXuLy": who[0], "ChucDanh": who[1], "NoiDungXuLy": content,
               "NgayBatDau": mkts_styled(rng, start) if start is not None else None,
               "NgayKetThucTheoQuyDinh": dl, "CapNhatLuc": mkts_styled(rng, cnl),
               EXTRA_COL: NOTES[rng.randrange(len(NOTES))]}
        if rng.random() < 0.02:
            row["PhongBanXuLy"] = None
        quatrinh.append((cnl, (mahoso, j + 1), row))
    return hoso, bosung, quatrinh


# ----------------------------------------------------------- expected ----

def tsv_escape(s):
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def expected_rows(entity, vis):
    """Normalised rows sorted by key then CapNhatLuc (lists of str)."""
    cols = COLUMNS[entity]
    out = []
    for cnl, key, row in vis:
        out.append(([norm(row.get(c), t) for c, t in cols], key, cnl))
    out.sort(key=lambda x: (x[1], x[2]))
    return [x[0] for x in out]


def personal_samples(vis_hoso, cap=5000):
    res = {c: [] for c in ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "DiaChi")}
    seen = {c: set() for c in res}
    for _cnl, _key, row in vis_hoso:
        for c in res:
            v = row.get(c)
            if v and v not in seen[c] and len(res[c]) < cap:
                seen[c].add(v)
                res[c].append(v)
    return res
