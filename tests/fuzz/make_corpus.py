#!/usr/bin/env python3
"""Write the seed corpus of fuzz_csv_record.c into tests/fuzz/corpus/.

  python3 tests/fuzz/make_corpus.py

Pages come from the simulator (small pages of each entity, valid and with
each fault that shapes a page: every bad_row reason, BOM, LF-only,
unterminated quote, a dropped column) plus a few hand-written edge cases.
Each file is: one byte choosing the entity and options, one byte for the
chunk size, then the page (see fuzz_csv_record.c).  Deterministic: the
simulator's data depends only on its seed.  Files found by fuzzing are
added by hand (named crash-* or found-*) and are left alone here.
"""
import json
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import harness  # noqa: E402

ENTITIES = ["donvi", "thutuc", "hoso", "bosung", "quatrinh"]
REASONS = {
    "donvi": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
              "too_long"],
    "thutuc": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
               "bad_utf8", "too_long"],
    "hoso": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
             "too_long", "bad_order"],
    "bosung": ["field_count", "missing_field", "bad_timestamp", "bad_number", "bad_utf8",
               "too_long", "bad_order"],
    "quatrinh": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
                 "bad_utf8", "too_long"],
}
PERSONAL, SMALL_CAP = 1, 2


def prefix(entity, options=0, chunk=7):
    return bytes([ENTITIES.index(entity) + 5 * options, chunk])


def write(name, entity, page, options=0, chunk=7):
    with open(os.path.join(HERE, "corpus", name), "wb") as f:
        f.write(prefix(entity, options, chunk) + page)


def fetch(sim, entity, faults=(), limit=3):
    sim.control("faults", {"faults": list(faults)})
    with urllib.request.urlopen(f"{sim.url}/{entity}?limit={limit}", timeout=30) as r:
        return r.read()


def from_simulator():
    sim = harness.Simulator(seed=5, dossiers=60, never_gzip=True)
    try:
        for i, e in enumerate(ENTITIES):
            write(f"valid-{e}", e, fetch(sim, e), chunk=1 + 11 * i)
            write(f"valid-{e}-personal", e, fetch(sim, e), options=PERSONAL, chunk=60)
            for reason in REASONS[e]:
                page = fetch(sim, e, [{"entity": e, "kind": "bad_row", "reason": reason}])
                write(f"{reason}-{e}", e, page, chunk=3)
        write("bad_utf8-nul-hoso", "hoso", fetch(sim, "hoso", [
            {"entity": "hoso", "kind": "bad_row", "reason": "bad_utf8", "variant": "nul"}]))
        for e in ("donvi", "hoso"):
            write(f"bom-{e}", e, fetch(sim, e, [{"entity": e, "kind": "bom"}]), chunk=1)
        for e in ("thutuc", "quatrinh"):
            write(f"lf_only-{e}", e, fetch(sim, e, [{"entity": e, "kind": "lf_only"}]))
        for e in ("hoso", "bosung"):
            write(f"unterminated_quote-{e}", e,
                  fetch(sim, e, [{"entity": e, "kind": "unterminated_quote"}]), chunk=2)
        write("drop_column-hoso", "hoso", fetch(sim, "hoso", [
            {"entity": "hoso", "kind": "drop_column", "column": "NgayHenTra"}]))
        write("too_long-small_cap-thutuc", "thutuc", fetch(sim, "thutuc", [
            {"entity": "thutuc", "kind": "bad_row", "reason": "too_long"}]), options=SMALL_CAP)
    finally:
        sim.stop()


HOSO = ("MaHoSo,MaDonVi,MaTTHC,KenhThucHien,TrangThaiHoSo,NgayNopHoSo,NgayTiepNhan,"
        "NgayHenTra,NgayKetThucXuLy,NgayTra,DuocThanhToanTrucTuyen,CapNhatLuc,ChuHoSo")

HAND = {
    "empty": ("hoso", b""),
    "header-only": ("hoso", HOSO.encode() + b"\r\n"),
    "header-only-bom-no-eol": ("donvi", b"\xef\xbb\xbfMaDonVi,TenDonVi,CapNhatLuc"),
    "bom-only": ("donvi", b"\xef\xbb\xbf"),
    "half-bom": ("donvi", b"\xef\xbbMaDonVi,TenDonVi,CapNhatLuc\r\nA,B,20210101\r\n"),
    "quotes-commas-newlines": ("donvi", (
        'MaDonVi,TenDonVi,MaDonViCha,CapDonVi,CapNhatLuc\r\n'
        '"000.00.01.H53","Sở ""Giáo dục"", Sóc Trăng",,tinh,2021-03-04T05:06:07.123+07:00\r\n'
        'X1,"tên\r\ncó dòng mới",000.00.01.H53,"XA",2021-03-04 05:06:07Z\r\n'
        '  X2  ,  tên có khoảng trắng  ,,huyen,20210304\r\n'
        '\r\n\r\n'
        'X3,"tab\there",,,2021-03-04T05:06:07.123456789-0130\n'
        'X4,cr only,,,2021-03-04\r'
        'X5,"unquoted "" quote",,,20991231235959\r\n').encode()),
    "timestamps-every-form": ("bosung", (
        "MaHoSo,ThuTu,NgayBoSung,NgayTiepNhanBoSung,NgayHenTraTruoc,NgayHenTraMoi,"
        "TrangThaiBoSung,CapNhatLuc\r\n"
        "H1,1,20210102030405,2021-01-02T03:04:05,2021-01-02 03:04:05.1,"
        "2021-01-02T03:04:05Z,x,2021-01-02T03:04:05+14:59\r\n"
        "H1,02,2021-01-02,20210102,2021-02-29,2024-02-29,,2021-01-02T03:04:05.999999999-0700\r\n"
        "H1,3,1999-12-31,,,,,20210102\r\n"
        "H1,4,2021-01-02T24:00:00,,,,,20210102\r\n"
        "H1,5,2021-01-02T23:59:60,,,,,20210102\r\n"
        "H1,0,2021-01-02,,,,,20210102\r\n"
        "H1,2147483648,2021-01-02,,,,,20210102\r\n"
        "H1,6,2021-01-05,2021-01-04T23:00:00Z,,,,20210102\r\n").encode()),
    "mucdo-words": ("thutuc", (
        "MaDonVi,MaTTHC,TenTTHC,MucDo,ThoiHanGiaiQuyet,CoPhiLePhi,DangApDung,CapNhatLuc\r\n"
        "U,P1,Thủ tục 1,mot_phan,0,1,0,20210101000000\r\n"
        "U,P2,Thủ tục 2,TOAN_TRINH,3650,,,20210101000000\r\n"
        "U,P3,Thủ tục 3,,3651,2,1,20210101000000\r\n"
        "U,P4,Thủ tục 4,04,-1,0,1,20210101000000\r\n").encode()),
    "hoso-status-rules": ("hoso", (HOSO + "\r\n"
        "H1,U,P,1,1,,,,,,,20210101,Nguyễn Văn A\r\n"
        "H2,U,P,2,9,,20210101,20210105,,,1,20210101,x\r\n"
        "H3,U,P,3,10,,20210101,20201231,20210102,,0,20210101,\r\n"
        "H4,U,P,1,7,,20210101,,,,,20210101,y,extra,fields\r\n"
        "H5,U,P,01,003,,,,,,,20210101\r\n").encode()),
    "duplicate-column": ("donvi", b"MaDonVi,TenDonVi,CapNhatLuc,madonvi\r\nA,B,20210101,C\r\n"),
    "missing-columns": ("quatrinh", b"MaHoSo,TrangThai\r\nH,1\r\n"),
    "required-personal": ("quatrinh", (
        "MaHoSo,ThuTu,TrangThai,ThoiDiemXuLy,NguoiXuLy,GhiChuNoiBo,CapNhatLuc\r\n"
        "H,1,4,20210101,Trần Thị B,ghi chú,20210101\r\n").encode(), PERSONAL),
    "unterminated-first-row": ("donvi", b'MaDonVi,TenDonVi,CapNhatLuc\r\n"A,B,20210101\r\n'),
    "quote-after-text": ("donvi", b'MaDonVi,TenDonVi,CapNhatLuc\r\nA"b,"c"d,20210101\r\n'),
    "nul-and-invalid": ("donvi", b"MaDonVi,TenDonVi,CapNhatLuc\r\nA\x00,B\xff\xfe,20210101\r\n"
                                 b"\xed\xa0\x80,B,20210101\r\n"),
    "small-cap-runaway": ("donvi", b'MaDonVi,TenDonVi,CapNhatLuc\r\nA,"' + b"x" * 700 +
                          b"\r\n", SMALL_CAP),
}


def hand_written():
    for name, spec in HAND.items():
        entity, page = spec[0], spec[1]
        options = spec[2] if len(spec) > 2 else 0
        write(f"hand-{name}", entity, page, options=options, chunk=5)


def main():
    os.makedirs(os.path.join(HERE, "corpus"), exist_ok=True)
    from_simulator()
    hand_written()
    n = len(os.listdir(os.path.join(HERE, "corpus")))
    print(json.dumps({"corpus_files": n}))


if __name__ == "__main__":
    main()
