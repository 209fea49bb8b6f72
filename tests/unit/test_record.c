#include "buf.h"
#include "pgcopy.h"
#include "record.h"
#include "testhelp.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>

#define MAXF 32

static const char *const hoso_header =
    "MaHoSo|MaDonVi|MaTTHC|KenhThucHien|TrangThaiHoSo|NgayNopHoSo|"
    "NgayTiepNhan|NgayHenTra|NgayKetThucXuLy|NgayTra|"
    "DuocThanhToanTrucTuyen|CapNhatLuc|ChuHoSo|SoDienThoai";

static struct buf out, raw, err, staged_text;
static struct reject rej;

/* Split on '|' (tests' own separator, so fields can hold commas). */
static size_t split(const char *line, struct field *f)
{
	size_t n = 0;
	const char *p = line;

	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		f[n].ptr = p;
		f[n++].len = len;
		if (!bar || n == MAXF)
			return n;
		p = bar + 1;
	}
}

static struct record_map *map_for(enum entity e, const char *header,
				  const char *const *extra)
{
	struct field f[MAXF];
	size_t n = split(header, f);

	buf_reset(&err);
	return record_map_new(e, f, n, extra, &err);
}

/* Convert row; out and raw hold only this row's result afterwards. */
static int convert_fields(struct record_map *m, const struct field *f, size_t n,
			  long long row)
{
	buf_reset(&out);
	buf_reset(&raw);
	return record_convert(m, f, n, row, &out, &rej, &raw);
}

static int convert(struct record_map *m, const char *row, long long number)
{
	struct field f[MAXF];
	size_t n = split(row, f);

	return convert_fields(m, f, n, number);
}

/* out's one staging tuple of entity e, read back as text (pgcopy.h). */
static const char *staged(enum entity e)
{
	buf_reset(&staged_text);
	if (pgcopy_tuple(pgcopy_types[e], out.data, out.len, &staged_text) !=
	    out.len)
		return "(out is not one tuple)";
	return buf_str(&staged_text);
}

/* Whether out holds the bytes s[0..len) anywhere. */
static bool out_holds(const char *s, size_t len)
{
	return out.len && memmem(out.data, out.len, s, len) != NULL;
}

/* The reject of row as "code column". */
static const char *rejected(struct record_map *m, const char *row)
{
	static char text[128];

	if (convert(m, row, 1) != 1)
		return "accepted";
	snprintf(text, sizeof(text), "%s %s", reject_code(rej.reason),
		 rej.column ? rej.column : "-");
	return text;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static void test_names(void)
{
	CHECK_STR(entity_name(ENTITY_HOSO), "hoso");
	CHECK_INT(entity_from_name("quatrinh"), ENTITY_QUATRINH);
	CHECK_INT(entity_from_name("donvi"), ENTITY_DONVI);
	CHECK_INT(entity_from_name("HoSo"), -1);
	CHECK_INT(entity_from_name("x"), -1);
	CHECK_STR(entity_staging_table(ENTITY_BOSUNG), "stg_bosung");
	CHECK_STR(entity_staging_columns(ENTITY_DONVI),
		  "row_number, unit_code, unit_name, parent_code, level, "
		  "updated_at");
	CHECK_STR(entity_staging_columns(ENTITY_THUTUC),
		  "row_number, unit_code, procedure_code, procedure_name, "
		  "field_code, field_name, level, legal_days, fee, in_force, "
		  "updated_at");
	CHECK_STR(entity_staging_columns(ENTITY_HOSO),
		  "row_number, ma_ho_so, unit_code, procedure_code, channel, "
		  "status, submitted_at, received_at, due_at, finished_at, "
		  "returned_at, paid_online, updated_at");
	CHECK_STR(entity_staging_columns(ENTITY_BOSUNG),
		  "row_number, ma_ho_so, seq, requested_at, returned_at, "
		  "prev_due_at, new_due_at, state, updated_at");
	CHECK_STR(entity_staging_columns(ENTITY_QUATRINH),
		  "row_number, ma_ho_so, seq, status, done_at, department, "
		  "handler, handler_title, content, started_at, step_due_at, "
		  "updated_at");
	CHECK_STR(reject_code(REJECT_FIELD_COUNT), "field_count");
	CHECK_STR(reject_code(REJECT_MISSING_FIELD), "missing_field");
	CHECK_STR(reject_code(REJECT_BAD_TIMESTAMP), "bad_timestamp");
	CHECK_STR(reject_code(REJECT_BAD_CODE), "bad_code");
	CHECK_STR(reject_code(REJECT_BAD_NUMBER), "bad_number");
	CHECK_STR(reject_code(REJECT_BAD_UTF8), "bad_utf8");
	CHECK_STR(reject_code(REJECT_TOO_LONG), "too_long");
	CHECK_STR(reject_code(REJECT_BAD_ORDER), "bad_order");
	/* the test's staging types name every staging column */
	for (int e = 0; e < ENTITY_COUNT; e++)
		CHECK_INT(strlen(pgcopy_types[e]),
			  count_char(entity_staging_columns(e), ',') + 1);
}

static void test_donvi(void)
{
	struct record_map *m =
	    map_for(ENTITY_DONVI,
		    "MaDonVi|TenDonVi|MaDonViCha|CapDonVi|CapNhatLuc", NULL);

	CHECK(m != NULL);
	CHECK_INT(convert(m,
			  " 000.00.01.H60 |Sở Giáo dục và Đào tạo||tinh|"
			  "20240503100500",
			  7),
		  0);
	CHECK_STR(staged(ENTITY_DONVI),
		  "7\t000.00.01.H60\tSở Giáo dục và Đào tạo"
		  "\t\\N\tTINH\t2024-05-03 03:05:00+00\n");
	CHECK_INT(convert(m, "X|Xã A|H|Xa|2024-05-03", 8), 0);
	CHECK_STR(staged(ENTITY_DONVI),
		  "8\tX\tXã A\tH\tXA\t2024-05-02 17:00:00+00\n");
	CHECK_INT(convert(m, "X|Y|| |2024-05-03", 9), 0);
	CHECK_STR(staged(ENTITY_DONVI),
		  "9\tX\tY\t\\N\t\\N\t2024-05-02 17:00:00+00\n");
	CHECK_STR(rejected(m, "X|Y||TINHH|2024-05-03"), "bad_code CapDonVi");
	CHECK_STR(rejected(m, "X| ||TINH|2024-05-03"),
		  "missing_field TenDonVi");
	CHECK_STR(rejected(m, "X|Y||TINH|"), "missing_field CapNhatLuc");
	CHECK_STR(rejected(m, "X|Y||TINH|1999-12-31"),
		  "bad_timestamp CapNhatLuc");
	/* the tuple has one field per staging column */
	CHECK_INT(convert(m, "X|Y||TINH|20240503", 1), 0);
	CHECK_INT(pgcopy_int((const unsigned char *)out.data, 2),
		  count_char(entity_staging_columns(ENTITY_DONVI), ',') + 1);
	record_map_free(m);
}

static void test_thutuc(void)
{
	struct record_map *m =
	    map_for(ENTITY_THUTUC,
		    "MaDonVi|MaTTHC|TenTTHC|MaLinhVuc|TenLinhVuc|MucDo|"
		    "ThoiHanGiaiQuyet|CoPhiLePhi|DangApDung|CapNhatLuc",
		    NULL);

	CHECK(m != NULL);
	CHECK_INT(convert(m,
			  "U|1.001|Cấp phép|LV|Giáo dục|04|015|1|0|"
			  "2024-01-02T03:04:05.5Z",
			  1),
		  0);
	CHECK_STR(staged(ENTITY_THUTUC),
		  "1\tU\t1.001\tCấp phép\tLV\tGiáo dục\t4\t15"
		  "\tt\tf\t2024-01-02 03:04:05.500000+00\n");
	/* defaults: MucDo 1, no fee, in force */
	CHECK_INT(convert(m, "U|P|N|||||||20240102", 2), 1);
	CHECK_STR(rejected(m, "U|P|N|||||||20240102"),
		  "missing_field ThoiHanGiaiQuyet");
	CHECK_INT(convert(m, "U|P|N||||0|||20240102", 2), 0);
	CHECK_STR(staged(ENTITY_THUTUC), "2\tU\tP\tN\t\\N\t\\N\t1\t0\tf\tt"
					 "\t2024-01-01 17:00:00+00\n");
	CHECK_INT(convert(m, "U|P|N||| mot_phan |0|||20240102", 3), 0);
	CHECK_STR(staged(ENTITY_THUTUC), "3\tU\tP\tN\t\\N\t\\N\t3\t0\tf\tt"
					 "\t2024-01-01 17:00:00+00\n");
	CHECK_INT(convert(m, "U|P|N|||Toan_Trinh|3650|00|01|20240102", 4), 0);
	CHECK_STR(staged(ENTITY_THUTUC), "4\tU\tP\tN\t\\N\t\\N\t4\t3650\tf\tt"
					 "\t2024-01-01 17:00:00+00\n");
	CHECK_STR(rejected(m, "U|P|N|||5|0|||20240102"), "bad_code MucDo");
	CHECK_STR(rejected(m, "U|P|N|||0|0|||20240102"), "bad_code MucDo");
	CHECK_STR(rejected(m, "U|P|N|||MOT PHAN|0|||20240102"),
		  "bad_code MucDo");
	CHECK_STR(rejected(m, "U|P|N||||3651|||20240102"),
		  "bad_number ThoiHanGiaiQuyet");
	CHECK_STR(rejected(m, "U|P|N||||-1|||20240102"),
		  "bad_number ThoiHanGiaiQuyet");
	CHECK_STR(rejected(m, "U|P|N||||1.5|||20240102"),
		  "bad_number ThoiHanGiaiQuyet");
	CHECK_STR(rejected(m, "U|P|N||||99999999999999999999|||20240102"),
		  "bad_number ThoiHanGiaiQuyet");
	CHECK_STR(rejected(m, "U|P|N||||1|2||20240102"), "bad_code CoPhiLePhi");
	CHECK_STR(rejected(m, "U|P|N||||1||true|20240102"),
		  "bad_code DangApDung");
	record_map_free(m);
}

static struct record_map *hoso_map(void)
{
	struct record_map *m = map_for(ENTITY_HOSO, hoso_header, NULL);
	CHECK(m != NULL);
	return m;
}

static void test_hoso(void)
{
	struct record_map *m = hoso_map();

	CHECK_INT(convert(m,
			  "H1|U|P|02|10|20240501080000|2024-05-02 08:00:00|"
			  "20240510|2024-05-09T16:00:00+07:00|20240510|1|"
			  "20240510170000|Nguyễn Văn A|0909",
			  42),
		  0);
	CHECK_STR(staged(ENTITY_HOSO),
		  "42\tH1\tU\tP\t2\t10\t2024-05-01 01:00:00+00"
		  "\t2024-05-02 01:00:00+00\t2024-05-09 17:00:00+00"
		  "\t2024-05-09 09:00:00+00\t2024-05-09 17:00:00+00\tt"
		  "\t2024-05-10 10:00:00+00\n");
	/* nothing personal reaches staging */
	CHECK(!out_holds("Nguy", 4));
	CHECK(!out_holds("0909", 4));
	CHECK_STR(rejected(m, "H1|U|P|4|1||||||0|20240510||"),
		  "bad_code KenhThucHien");
	CHECK_STR(rejected(m, "H1|U|P|1|11||||||0|20240510||"),
		  "bad_code TrangThaiHoSo");
	CHECK_STR(rejected(m, "H1|U|P|1|0||||||0|20240510||"),
		  "bad_code TrangThaiHoSo");
	CHECK_STR(rejected(m, "H1|U|P|1|1||||||2|20240510||"),
		  "bad_code DuocThanhToanTrucTuyen");
	CHECK_STR(rejected(m, "H1|U|P|1|1|x|||||0|20240510||"),
		  "bad_timestamp NgayNopHoSo");
	CHECK_STR(rejected(m, "H1|U|P|1|1|||||x|0|20240510||"),
		  "bad_timestamp NgayTra");
	CHECK_STR(rejected(m, "|U|P|1|1||||||0|20240510||"),
		  "missing_field MaHoSo");
	CHECK_STR(rejected(m, "H1|U|P||1||||||0|20240510||"),
		  "missing_field KenhThucHien");
	record_map_free(m);
}

static void test_status_rules(void)
{
	struct record_map *m = hoso_map();

	/* status 1 and 3: neither received nor due */
	CHECK_STR(rejected(m, "H|U|P|1|1||||||0|20240510||"), "accepted");
	CHECK_STR(rejected(m, "H|U|P|1|3||||||0|20240510||"), "accepted");
	/* 7 (withdrawn) may lack the due date but not the intake */
	CHECK_STR(rejected(m, "H|U|P|1|7||||||0|20240510||"),
		  "missing_field NgayTiepNhan");
	CHECK_STR(rejected(m, "H|U|P|1|7||20240501|||||20240510||"),
		  "accepted");
	CHECK_STR(rejected(m, "H|U|P|1|2||20240501||||0|20240510||"),
		  "missing_field NgayHenTra");
	CHECK_STR(rejected(m, "H|U|P|1|4||20240501|20240510|||0|20240510||"),
		  "accepted");
	/* 9 and 10 must say when processing finished */
	CHECK_STR(rejected(m, "H|U|P|1|9||20240501|20240510|||0|20240510||"),
		  "missing_field NgayKetThucXuLy");
	CHECK_STR(rejected(m, "H|U|P|1|10||20240501|20240510|||0|20240510||"),
		  "missing_field NgayKetThucXuLy");
	CHECK_STR(rejected(m, "H|U|P|1|9||20240501|20240510|20240509||0|"
			      "20240510||"),
		  "accepted");
	/* a status 1 row may still carry the dates */
	CHECK_STR(rejected(m, "H|U|P|1|1||20240501|20240510|20240509||0|"
			      "20240510||"),
		  "accepted");
	record_map_free(m);
}

static void test_order(void)
{
	struct record_map *m = hoso_map();

	/* the same local day is in order, whatever the hour or zone */
	CHECK_STR(rejected(m, "H|U|P|1|9||2024-05-02 15:00:00|"
			      "2024-05-02 08:00:00|2024-05-01T17:00:00Z||0|"
			      "20240510||"),
		  "accepted");
	CHECK_STR(rejected(m, "H|U|P|1|9||2024-05-02 15:00:00|20240510|"
			      "2024-05-01T16:59:59Z||0|20240510||"),
		  "bad_order NgayKetThucXuLy");
	CHECK_STR(rejected(m, "H|U|P|1|4||20240502|20240501|||0|20240510||"),
		  "bad_order NgayHenTra");
	/* both late: the first in column order is named */
	CHECK_STR(rejected(m, "H|U|P|1|9||20240502|20240501|20240501||0|"
			      "20240510||"),
		  "bad_order NgayHenTra");
	/* a column error comes before any order error */
	CHECK_STR(rejected(m, "H|U|P|1|9||20240502|20240501|20240501||0|x||"),
		  "bad_timestamp CapNhatLuc");
	record_map_free(m);

	m = map_for(ENTITY_BOSUNG,
		    "MaHoSo|ThuTu|NgayBoSung|NgayTiepNhanBoSung|"
		    "NgayHenTraTruoc|NgayHenTraMoi|TrangThaiBoSung|CapNhatLuc",
		    NULL);
	CHECK_STR(rejected(m, "H|1|20240502|20240501||||20240510"),
		  "bad_order NgayTiepNhanBoSung");
	CHECK_STR(rejected(m, "H|1|20240502|20240502||||20240510"), "accepted");
	record_map_free(m);
}

static void test_bosung(void)
{
	struct record_map *m = map_for(
	    ENTITY_BOSUNG,
	    "MaHoSo|ThuTu|NgayBoSung|NgayTiepNhanBoSung|NgayHenTraTruoc|"
	    "NgayHenTraMoi|TrangThaiBoSung|CapNhatLuc",
	    NULL);

	CHECK(m != NULL);
	CHECK_INT(
	    convert(m, "H|002|20240502|||20240601|Đã bổ sung|20240510", 5), 0);
	CHECK_STR(staged(ENTITY_BOSUNG),
		  "5\tH\t2\t2024-05-01 17:00:00+00\t\\N\t\\N"
		  "\t2024-05-31 17:00:00+00\tĐã bổ sung"
		  "\t2024-05-09 17:00:00+00\n");
	CHECK_STR(rejected(m, "H|0|20240502|||||20240510"), "bad_number ThuTu");
	CHECK_STR(rejected(m, "H||20240502|||||20240510"),
		  "missing_field ThuTu");
	CHECK_STR(rejected(m, "H|2147483648|20240502|||||20240510"),
		  "bad_number ThuTu");
	CHECK_STR(rejected(m, "H|2147483647|20240502|||||20240510"),
		  "accepted");
	CHECK_STR(rejected(m, "H|1||||||20240510"), "missing_field NgayBoSung");
	CHECK_STR(rejected(m, "H|1|20240502|||2024-02-30||20240510"),
		  "bad_timestamp NgayHenTraMoi");
	record_map_free(m);
}

static void test_quatrinh(void)
{
	struct record_map *m = map_for(
	    ENTITY_QUATRINH,
	    "MaHoSo|ThuTu|TrangThai|ThoiDiemXuLy|PhongBanXuLy|NguoiXuLy|"
	    "ChucDanh|NoiDungXuLy|NgayBatDau|NgayKetThucTheoQuyDinh|"
	    "CapNhatLuc",
	    NULL);

	CHECK(m != NULL);
	CHECK_INT(convert(m,
			  "H|3|04|20240502090000|Phòng A|Lê B|Chuyên viên|"
			  "Xử lý\\nxong|20240501|20240503|20240510",
			  9),
		  0);
	CHECK_STR(staged(ENTITY_QUATRINH),
		  "9\tH\t3\t4\t2024-05-02 02:00:00+00\tPhòng A\tLê B"
		  "\tChuyên viên\tXử lý\\nxong\t2024-04-30 17:00:00+00"
		  "\t2024-05-02 17:00:00+00\t2024-05-09 17:00:00+00\n");
	CHECK_STR(rejected(m, "H|3|11|20240502|||||||20240510"),
		  "bad_code TrangThai");
	CHECK_STR(rejected(m, "H|3||20240502|||||||20240510"),
		  "missing_field TrangThai");
	CHECK_STR(rejected(m, "H|3|1||||||||20240510"),
		  "missing_field ThoiDiemXuLy");
	record_map_free(m);
}

/* Binary COPY takes text as it is: nothing is escaped any more. */
static void test_raw_text(void)
{
	struct record_map *m = map_for(
	    ENTITY_QUATRINH,
	    "MaHoSo|ThuTu|TrangThai|ThoiDiemXuLy|PhongBanXuLy|NguoiXuLy|"
	    "ChucDanh|NoiDungXuLy|NgayBatDau|NgayKetThucTheoQuyDinh|"
	    "CapNhatLuc",
	    NULL);
	struct field f[MAXF];
	size_t n = split("H|1|4|20240502||||X||| 20240510 ", f);

	/* inner tab, newline, CR and backslash kept; the ends trimmed */
	f[7].ptr = " \tline1\tline2\nline3\r\\end\t\r\n ";
	f[7].len = strlen(f[7].ptr);
	CHECK_INT(convert_fields(m, f, n, 1), 0);
	CHECK_STR(staged(ENTITY_QUATRINH),
		  "1\tH\t1\t4\t2024-05-01 17:00:00+00\t\\N\t\\N\t\\N"
		  "\tline1\tline2\nline3\r\\end\t\\N\t\\N"
		  "\t2024-05-09 17:00:00+00\n");
	/* the field's length, not a tab, says where the value ends */
	static const char field[] = "\0\0\0\x16"
				    "line1\tline2\nline3\r\\end";
	CHECK(out_holds(field, sizeof(field) - 1));

	/* the reject store's COPY is text: it still escapes */
	struct buf b;
	buf_init(&b, 100);
	CHECK_INT(copy_escape(&b, "a\\b\tc", 5), 0);
	CHECK_STR(buf_str(&b), "a\\\\b\\tc");
	buf_release(&b);
	record_map_free(m);
}

static void test_check_order(void)
{
	struct record_map *m = hoso_map();
	struct field f[MAXF];
	size_t n = split("H|U|P|9|99||||||0|x||", f);

	/* two bad columns: the first in the contract's order */
	CHECK_STR(rejected(m, "H|U|P|9|99||||||0|x||"),
		  "bad_code KenhThucHien");
	/* bad_utf8 before field_count */
	f[0].ptr = "\xff";
	f[0].len = 1;
	CHECK_INT(convert_fields(m, f, n - 1, 1), 1);
	CHECK_INT(rej.reason, REJECT_BAD_UTF8);
	CHECK_STR(rej.column, "MaHoSo");
	/* beyond the header a field has no name to give */
	n = split("H|U|P|9|99||||||0|x|||", f);
	f[14].ptr = "\xc3(";
	f[14].len = 2;
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_INT(rej.reason, REJECT_BAD_UTF8);
	CHECK(rej.column == NULL);
	CHECK(strstr(buf_str(&raw), "\\xc3") == NULL);
	/* field_count before too_long and columns */
	CHECK_STR(rejected(m, "H|U|P|9|99||||||0|x|"), "field_count -");
	CHECK_STR(rejected(m, "H|U|P|9|99||||||0|x|||"), "field_count -");
	/* too_long before columns, naming even a personal column */
	static char big[RECORD_MAX_FIELD + 2];
	memset(big, 'a', sizeof(big) - 1);
	n = split("H|U|P|9|99||||||0|x||", f);
	f[12].ptr = big;
	f[12].len = RECORD_MAX_FIELD + 1;
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_INT(rej.reason, REJECT_TOO_LONG);
	CHECK_STR(rej.column, "ChuHoSo");
	CHECK(strstr(buf_str(&raw), "aaa") == NULL);
	f[12].len = RECORD_MAX_FIELD;
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_INT(rej.reason, REJECT_BAD_CODE);
	record_map_free(m);
}

static void test_utf8(void)
{
	struct record_map *m = hoso_map();
	static const char *const bad[] = {
	    "\xc0\xaf",				/* overlong '/' */
	    "\xe0\x80\xaf",			/* overlong */
	    "\xed\xa0\x80",			/* surrogate */
	    "\xf4\x90\x80\x80",			/* above U+10FFFF */
	    "\xf5\x80\x80\x80", "\x80", "\xc3", /* cut short */
	    "ab\xe1\x80",	"\xfe",
	};
	struct field f[MAXF];
	size_t n = split("H|U|P|1|1||||||0|20240510||", f);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		f[2].ptr = bad[i];
		f[2].len = strlen(bad[i]);
		CHECK_INT(convert_fields(m, f, n, 1), 1);
		CHECK_INT(rej.reason, REJECT_BAD_UTF8);
		CHECK_STR(rej.column, "MaTTHC");
	}
	/* in a personal field: named, but masked in the raw row */
	f[2].ptr = "P";
	f[2].len = 1;
	f[12].ptr = "Nguy\xe1n";
	f[12].len = strlen(f[12].ptr);
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_INT(rej.reason, REJECT_BAD_UTF8);
	CHECK_STR(rej.column, "ChuHoSo");
	CHECK(strstr(buf_str(&raw), "Nguy") == NULL);
	f[12].ptr = "";
	f[12].len = 0;
	/* the largest code point, and NUL */
	f[2].ptr = "\xf4\x8f\xbf\xbf";
	f[2].len = 4;
	CHECK_INT(convert_fields(m, f, n, 1), 0);
	f[2].ptr = "P\0Q";
	f[2].len = 3;
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_INT(rej.reason, REJECT_BAD_UTF8);
	CHECK_STR(buf_str(&raw), "H,U,P\\x00Q,1,1,,,,,,0,20240510,***,***");
	/* bad bytes as \xNN, valid characters kept, in quotes when needed */
	f[2].ptr = "Đ\xff,\"\xc3";
	f[2].len = strlen(f[2].ptr);
	CHECK_INT(convert_fields(m, f, n, 1), 1);
	CHECK_STR(buf_str(&raw),
		  "H,U,\"Đ\\xff,\"\"\\xc3\",1,1,,,,,,0,20240510,***,***");
	record_map_free(m);
}

static void test_header(void)
{
	/* another order, other case, spaces, a BOM, an extra column */
	struct record_map *m = map_for(
	    ENTITY_DONVI,
	    "\xef\xbb\xbf CapNhatLuc|GhiChu|capdonvi| MADONVI |TenDonVi", NULL);

	CHECK(m != NULL);
	CHECK_INT(convert(m, "20240503|note|huyen|U1|Huyện A", 3), 0);
	CHECK_STR(staged(ENTITY_DONVI),
		  "3\tU1\tHuyện A\t\\N\tHUYEN\t2024-05-02 17:00:00+00\n");
	/* the extra column is kept as it is in raw rows */
	CHECK_STR(rejected(m, "2024|a,b|huyen|U1|Huyện A"),
		  "bad_timestamp CapNhatLuc");
	CHECK_STR(buf_str(&raw), "2024,\"a,b\",huyen,U1,Huyện A");
	record_map_free(m);

	m = map_for(ENTITY_HOSO,
		    "MaHoSo|MaDonVi|MaTTHC|KenhThucHien|NgayTiepNhan|"
		    "CapNhatLuc",
		    NULL);
	CHECK(m == NULL);
	CHECK_STR(buf_str(&err), "missing required columns 'TrangThaiHoSo', "
				 "'NgayHenTra'");
	m = map_for(ENTITY_HOSO,
		    "MaHoSo|MaDonVi|MaTTHC|KenhThucHien|TrangThaiHoSo|"
		    "NgayTiepNhan|CapNhatLuc",
		    NULL);
	CHECK(m == NULL);
	CHECK_STR(buf_str(&err), "missing required column 'NgayHenTra'");
	m = map_for(ENTITY_DONVI, "MaDonVi|TenDonVi|CapNhatLuc|madonvi", NULL);
	CHECK(m == NULL);
	CHECK_STR(buf_str(&err), "duplicate column 'MaDonVi'");
	m = map_for(ENTITY_DONVI, "", NULL);
	CHECK(m == NULL);
	CHECK_STR(buf_str(&err), "missing required columns 'MaDonVi', "
				 "'TenDonVi', 'CapNhatLuc'");

	/* optional columns may be absent: NULL or their default */
	m = map_for(ENTITY_HOSO,
		    "MaHoSo|MaDonVi|MaTTHC|KenhThucHien|TrangThaiHoSo|"
		    "NgayTiepNhan|NgayHenTra|CapNhatLuc",
		    NULL);
	CHECK(m != NULL);
	CHECK_INT(convert(m, "H|U|P|1|4|20240501|20240510|20240510", 1), 0);
	CHECK_STR(staged(ENTITY_HOSO), "1\tH\tU\tP\t1\t4\t\\N"
				       "\t2024-04-30 17:00:00+00"
				       "\t2024-05-09 17:00:00+00\t\\N\t\\N\tf"
				       "\t2024-05-09 17:00:00+00\n");
	/* ... but status 9 still needs NgayKetThucXuLy */
	CHECK_STR(rejected(m, "H|U|P|1|9|20240501|20240510|20240510"),
		  "missing_field NgayKetThucXuLy");
	record_map_free(m);
}

static void test_personal(void)
{
	static const char *const extra[] = {"ghichu", "NGUOIXULY", NULL};
	struct record_map *m =
	    map_for(ENTITY_QUATRINH,
		    "MaHoSo|ThuTu|TrangThai|ThoiDiemXuLy|NguoiXuLy|CapNhatLuc|"
		    "email|GhiChu|DiaChi|NgaySinh|SoGiayToChuHoSo|Khac",
		    extra);

	CHECK(m != NULL);
	/* a personal contract column is never read: NULL in staging */
	CHECK_INT(convert(m,
			  "H|1|4|20240502|Lê B|20240510|a@b.vn|n|Hà Nội|"
			  "1990|0123|k",
			  1),
		  0);
	CHECK_STR(staged(ENTITY_QUATRINH),
		  "1\tH\t1\t4\t2024-05-01 17:00:00+00\t\\N\t\\N"
		  "\t\\N\t\\N\t\\N\t\\N"
		  "\t2024-05-09 17:00:00+00\n");
	CHECK_STR(rejected(m, "H|1|4|x|Lê B|20240510|a@b.vn|n|Hà Nội|1990|"
			      "0123|k"),
		  "bad_timestamp ThoiDiemXuLy");
	CHECK_STR(buf_str(&raw), "H,1,4,x,***,20240510,***,***,***,***,***,k");
	/*
	 * A row with more or fewer fields than the header cannot be masked by
	 * position: every field goes (issue 14, defect 2), also when another
	 * reason comes first.
	 */
	CHECK_STR(rejected(m, "H|1|4|x|Lê B|20240510|a@b.vn|n|Hà Nội|1990|"
			      "0123|k|secret|\xff"),
		  "bad_utf8 -");
	CHECK_STR(buf_str(&raw),
		  "***,***,***,***,***,***,***,***,***,***,***,***,***,***");
	/* an unquoted comma in DiaChi: its tail sits under NgaySinh */
	CHECK_STR(rejected(m, "H|1|4|20240502|Lê B|20240510|a@b.vn|n|"
			      "12 Lê Lợi| P. 5|1990|0123|k"),
		  "field_count -");
	CHECK_STR(buf_str(&raw),
		  "***,***,***,***,***,***,***,***,***,***,***,***,***");
	/* one field short: the applicant's name sits under a public column */
	CHECK_STR(rejected(m, "H|1|4|20240502|20240510|Trần Văn An|n|"
			      "12 Lê Lợi|1990|0123|k"),
		  "field_count -");
	CHECK_STR(buf_str(&raw), "***,***,***,***,***,***,***,***,***,***,***");
	record_map_free(m);

	/* a header name that is not UTF-8 is stored escaped (defect 5) */
	m = map_for(ENTITY_QUATRINH,
		    "MaHoSo|ThuTu|TrangThai|ThoiDiemXuLy|CapNhatLuc|Ghi ch\xfa",
		    NULL);
	CHECK(m != NULL);
	struct field f[MAXF];
	struct reject r;
	char big[RECORD_MAX_FIELD + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	size_t n = split("H|1|4|20240502|20240510|", f);
	f[n - 1].ptr = big;
	f[n - 1].len = strlen(big);
	buf_reset(&raw);
	CHECK_INT(record_convert(m, f, n, 1, &out, &r, &raw), 1);
	CHECK_STR(reject_code(r.reason), "too_long");
	CHECK_STR(r.column, "Ghi ch\\xfa");
	record_map_free(m);

	static const char *const key[] = {"MaHoSo", NULL};
	m = map_for(ENTITY_BOSUNG, "MaHoSo|ThuTu|NgayBoSung|CapNhatLuc", key);
	CHECK(m == NULL);
	CHECK_STR(buf_str(&err), "required column 'MaHoSo' cannot be personal");
}

static void test_out_cap(void)
{
	struct record_map *m = hoso_map();
	struct buf small;
	struct reject r;
	struct field f[MAXF];
	size_t n = split("H|U|P|1|1||||||0|20240510||", f);

	buf_init(&small, 40);
	buf_adds(&small, "kept");
	CHECK_INT(record_convert(m, f, n, 1, &small, &r, &raw), -1);
	CHECK_STR(buf_str(&small), "kept");
	CHECK_INT(small.len, 4);
	buf_release(&small);
	buf_init(&small, 200);
	CHECK_INT(record_convert(m, f, n, 1, &small, &r, &raw), 0);
	CHECK_INT(r.reason, REJECT_NONE);
	size_t tuple = small.len;
	buf_release(&small);
	/* out of room anywhere in the tuple: out keeps what it held */
	int cut = 0;
	for (size_t cap = 4; cap < 4 + tuple; cap++) {
		buf_init(&small, cap);
		buf_adds(&small, "kept");
		cut += record_convert(m, f, n, 1, &small, &r, &raw) == -1 &&
		       small.len == 4 && strcmp(buf_str(&small), "kept") == 0;
		buf_release(&small);
	}
	CHECK_INT(cut, tuple);
	record_map_free(m);
}

/* The bytes themselves, against the format's documentation. */
static void test_binary_layout(void)
{
	struct record_map *m =
	    map_for(ENTITY_DONVI,
		    "MaDonVi|TenDonVi|MaDonViCha|CapDonVi|CapNhatLuc", NULL);
	/* 2000-01-01 00:00:01 UTC: a second after timestamptz's zero */
	/* clang-format off */
	static const char tuple[] =
	    "\0\6"                                   /* fields */
	    "\0\0\0\10" "\0\0\0\0\0\0\0\7"           /* row_number 7 */
	    "\0\0\0\1" "U"                           /* unit_code */
	    "\0\0\0\1" "N"                           /* unit_name */
	    "\xff\xff\xff\xff"                       /* parent_code NULL */
	    "\0\0\0\4" "TINH"                        /* level */
	    "\0\0\0\10" "\0\0\0\0\0\x0f\x42\x40";    /* updated_at */
	/* clang-format on */

	CHECK(m != NULL);
	CHECK_INT(convert(m, "U|N||tinh|2000-01-01T00:00:01Z", 7), 0);
	CHECK_INT(out.len, sizeof(tuple) - 1);
	CHECK(out.len == sizeof(tuple) - 1 &&
	      memcmp(out.data, tuple, out.len) == 0);
	/* 1999-12-31 23:59:59 UTC: before the zero, in two's complement */
	CHECK_INT(convert(m, "U|N||tinh|2000-01-01 06:59:59", 7), 0);
	CHECK(out.len == sizeof(tuple) - 1 &&
	      memcmp(out.data + out.len - 8, "\xff\xff\xff\xff\xff\xf0\xbd\xc0",
		     8) == 0);
	CHECK_STR(staged(ENTITY_DONVI),
		  "7\tU\tN\t\\N\tTINH\t1999-12-31 23:59:59+00\n");
	record_map_free(m);

	struct buf b;
	buf_init(&b, 64);
	CHECK_INT(copy_binary_header(&b), 0);
	CHECK_INT(b.len, 19);
	CHECK(b.len == 19 && memcmp(b.data,
				    "PGCOPY\n\377\r\n\0"
				    "\0\0\0\0"	/* flags */
				    "\0\0\0\0", /* header extension length */
				    19) == 0);
	buf_reset(&b);
	CHECK_INT(copy_binary_trailer(&b), 0);
	CHECK(b.len == 2 && memcmp(b.data, "\xff\xff", 2) == 0);
	buf_release(&b);
	buf_init(&b, 18);
	CHECK_INT(copy_binary_header(&b), -1);
	CHECK_INT(b.len, 0);
	buf_release(&b);
}

int main(void)
{
	buf_init(&out, 1 << 20);
	buf_init(&raw, 1 << 20);
	buf_init(&err, 4096);
	buf_init(&staged_text, 1 << 20);
	test_names();
	test_donvi();
	test_thutuc();
	test_hoso();
	test_status_rules();
	test_order();
	test_bosung();
	test_quatrinh();
	test_raw_text();
	test_check_order();
	test_utf8();
	test_header();
	test_personal();
	test_out_cap();
	test_binary_layout();
	buf_release(&out);
	buf_release(&raw);
	buf_release(&err);
	buf_release(&staged_text);
	TEST_REPORT();
}
