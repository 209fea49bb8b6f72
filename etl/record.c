#include "record.h"
#include "tstamp.h"
#include "utf8.h"
#include "util.h"

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The most contract columns an entity has (hoso), and date-order rules. */
#define MAX_COLUMNS 12
#define MAX_ORDER_RULES 2

enum kind {
	KIND_TEXT,
	KIND_TIME,
	KIND_CODE,   /* integer in [min, max] or one of words: bad_code */
	KIND_NUMBER, /* integer in [min, max]: bad_number */
	KIND_FLAG,   /* 0 or 1 */
	KIND_WORD,   /* one of words, written in their canonical spelling */
};

enum need {
	OPTIONAL,
	REQUIRED,
	REQUIRED_UNLESS_STATUS, /* required except for the statuses listed */
	REQUIRED_IF_STATUS,	/* required only for the statuses listed */
};

struct word {
	const char *text;
	long value;
};

struct column {
	const char *name; /* as the contract and the header spell it */
	enum kind kind;
	enum need need;
	unsigned statuses; /* STATUS() bits, for the conditional needs */
	long min, max;
	const struct word *words; /* ended by { NULL } */
	/* a FLAG or CODE column's value when empty, instead of NULL */
	bool has_default;
	long empty_as;
};

#define STATUS(n) (1u << (n))

struct order_rule {
	const char *earlier, *later;
};

struct entity_def {
	const char *name;
	const char *table;
	const char *columns; /* staging columns, one per struct column */
	const struct column *cols;
	size_t ncols;
	/* the column whose code the conditional needs look at; it must come
	   before them */
	const char *status;
	struct order_rule order[MAX_ORDER_RULES]; /* unused rules stay NULL */
};

/*
 * The entities' tables are laid out by hand, one contract column a line,
 * so that they read against source-api.md's column lists.
 */
/* clang-format off */
static const struct word unit_levels[] = {
	{ "TINH", 0 }, { "HUYEN", 1 }, { "XA", 2 }, { NULL, 0 },
};

/* Decree 42/2022 names the online levels instead of numbering them. */
static const struct word online_levels[] = {
	{ "MOT_PHAN", 3 }, { "TOAN_TRINH", 4 }, { NULL, 0 },
};

#define TEXT(n, need)     { n, KIND_TEXT, need, 0, 0, 0, NULL, false, 0 }
#define TIME(n, need)     { n, KIND_TIME, need, 0, 0, 0, NULL, false, 0 }
#define FLAG(n, dflt)     { n, KIND_FLAG, OPTIONAL, 0, 0, 1, NULL, true, dflt }
#define CODE(n, lo, hi)   { n, KIND_CODE, REQUIRED, 0, lo, hi, NULL, false, 0 }
#define NUMBER(n, lo, hi) { n, KIND_NUMBER, REQUIRED, 0, lo, hi, NULL, false, 0 }

/*
 * Staging column per contract column, same order.  Each kind is sent as
 * the type etl.create_staging (sql/code/merge.sql) gives its columns: TEXT
 * and WORD text, TIME timestamptz, CODE smallint, NUMBER int, FLAG
 * boolean; row_number, which comes first, is bigint.
 *
 * unit_code, unit_name, parent_code, level, updated_at
 */
static const struct column donvi_cols[] = {
	TEXT("MaDonVi", REQUIRED),
	TEXT("TenDonVi", REQUIRED),
	TEXT("MaDonViCha", OPTIONAL),
	{ "CapDonVi", KIND_WORD, OPTIONAL, 0, 0, 0, unit_levels, false, 0 },
	TIME("CapNhatLuc", REQUIRED),
};

/*
 * unit_code, procedure_code, procedure_name, field_code, field_name, level,
 * legal_days, fee, in_force, updated_at
 */
static const struct column thutuc_cols[] = {
	TEXT("MaDonVi", REQUIRED),
	TEXT("MaTTHC", REQUIRED),
	TEXT("TenTTHC", REQUIRED),
	TEXT("MaLinhVuc", OPTIONAL),
	TEXT("TenLinhVuc", OPTIONAL),
	{ "MucDo", KIND_CODE, OPTIONAL, 0, 1, 4, online_levels, true, 1 },
	/* ten years of working days: anything longer is a typo */
	NUMBER("ThoiHanGiaiQuyet", 0, 3650),
	FLAG("CoPhiLePhi", false),
	FLAG("DangApDung", true),
	TIME("CapNhatLuc", REQUIRED),
};

/*
 * ma_ho_so, unit_code, procedure_code, channel, status, submitted_at,
 * received_at, due_at, finished_at, returned_at, paid_online, updated_at
 */
static const struct column hoso_cols[] = {
	TEXT("MaHoSo", REQUIRED),
	TEXT("MaDonVi", REQUIRED),
	TEXT("MaTTHC", REQUIRED),
	CODE("KenhThucHien", 1, 3),
	CODE("TrangThaiHoSo", 1, 10),
	TIME("NgayNopHoSo", OPTIONAL),
	/* newly registered or refused at intake: never received */
	{ "NgayTiepNhan", KIND_TIME, REQUIRED_UNLESS_STATUS,
	  STATUS(1) | STATUS(3), 0, 0, NULL, false, 0 },
	/* ... and a withdrawn dossier may have had no due date yet */
	{ "NgayHenTra", KIND_TIME, REQUIRED_UNLESS_STATUS,
	  STATUS(1) | STATUS(3) | STATUS(7), 0, 0, NULL, false, 0 },
	/* finished or delivered: it must say when */
	{ "NgayKetThucXuLy", KIND_TIME, REQUIRED_IF_STATUS,
	  STATUS(9) | STATUS(10), 0, 0, NULL, false, 0 },
	TIME("NgayTra", OPTIONAL),
	FLAG("DuocThanhToanTrucTuyen", false),
	TIME("CapNhatLuc", REQUIRED),
};

/*
 * ma_ho_so, seq, requested_at, returned_at, prev_due_at, new_due_at, state,
 * updated_at
 */
static const struct column bosung_cols[] = {
	TEXT("MaHoSo", REQUIRED),
	NUMBER("ThuTu", 1, INT32_MAX),
	TIME("NgayBoSung", REQUIRED),
	TIME("NgayTiepNhanBoSung", OPTIONAL),
	TIME("NgayHenTraTruoc", OPTIONAL),
	TIME("NgayHenTraMoi", OPTIONAL),
	TEXT("TrangThaiBoSung", OPTIONAL),
	TIME("CapNhatLuc", REQUIRED),
};

/*
 * ma_ho_so, seq, status, done_at, department, handler, handler_title,
 * content, started_at, step_due_at, updated_at
 */
static const struct column quatrinh_cols[] = {
	TEXT("MaHoSo", REQUIRED),
	NUMBER("ThuTu", 1, INT32_MAX),
	CODE("TrangThai", 1, 10),
	TIME("ThoiDiemXuLy", REQUIRED),
	TEXT("PhongBanXuLy", OPTIONAL),
	TEXT("NguoiXuLy", OPTIONAL),
	TEXT("ChucDanh", OPTIONAL),
	TEXT("NoiDungXuLy", OPTIONAL),
	TIME("NgayBatDau", OPTIONAL),
	TIME("NgayKetThucTheoQuyDinh", OPTIONAL),
	TIME("CapNhatLuc", REQUIRED),
};

static const struct entity_def entities[ENTITY_COUNT] = {
	[ENTITY_DONVI] = {
		"donvi", "stg_donvi",
		"row_number, unit_code, unit_name, parent_code, level, "
		"updated_at",
		donvi_cols, ARRAY_SIZE(donvi_cols), NULL, { { NULL, NULL } },
	},
	[ENTITY_THUTUC] = {
		"thutuc", "stg_thutuc",
		"row_number, unit_code, procedure_code, procedure_name, "
		"field_code, field_name, level, legal_days, fee, in_force, "
		"updated_at",
		thutuc_cols, ARRAY_SIZE(thutuc_cols), NULL, { { NULL, NULL } },
	},
	[ENTITY_HOSO] = {
		"hoso", "stg_hoso",
		"row_number, ma_ho_so, unit_code, procedure_code, channel, "
		"status, submitted_at, received_at, due_at, finished_at, "
		"returned_at, paid_online, updated_at",
		hoso_cols, ARRAY_SIZE(hoso_cols), "TrangThaiHoSo",
		/* in column order, so a row late on both names NgayHenTra */
		{ { "NgayTiepNhan", "NgayHenTra" },
		  { "NgayTiepNhan", "NgayKetThucXuLy" } },
	},
	[ENTITY_BOSUNG] = {
		"bosung", "stg_bosung",
		"row_number, ma_ho_so, seq, requested_at, returned_at, "
		"prev_due_at, new_due_at, state, updated_at",
		bosung_cols, ARRAY_SIZE(bosung_cols), NULL,
		{ { "NgayBoSung", "NgayTiepNhanBoSung" } },
	},
	[ENTITY_QUATRINH] = {
		"quatrinh", "stg_quatrinh",
		"row_number, ma_ho_so, seq, status, done_at, department, "
		"handler, handler_title, content, started_at, step_due_at, "
		"updated_at",
		quatrinh_cols, ARRAY_SIZE(quatrinh_cols), NULL,
		{ { NULL, NULL } },
	},
};

static const char *const builtin_personal[] = {
	"ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "DiaChi",
	"NgaySinh", NULL,
};
/* clang-format on */

static const char *const reject_codes[] = {
    [REJECT_NONE] = "",
    [REJECT_FIELD_COUNT] = "field_count",
    [REJECT_MISSING_FIELD] = "missing_field",
    [REJECT_BAD_TIMESTAMP] = "bad_timestamp",
    [REJECT_BAD_CODE] = "bad_code",
    [REJECT_BAD_NUMBER] = "bad_number",
    [REJECT_BAD_UTF8] = "bad_utf8",
    [REJECT_TOO_LONG] = "too_long",
    [REJECT_BAD_ORDER] = "bad_order",
};

/* One contract column's value in the row being converted. */
struct value {
	const char *ptr; /* trimmed; len 0 = empty */
	size_t len;
	long num;     /* code, number, flag, or index into words; when
			 empty, the column's default */
	int64_t time; /* epoch microseconds */
};

struct record_map {
	const struct entity_def *def;
	size_t nheader;
	char **header;	      /* trimmed names, for too_long's column */
	bool *personal;	      /* per header field */
	int src[MAX_COLUMNS]; /* header index per contract column, or -1 */
	int status;	      /* contract column index, or -1 */
	int order[MAX_ORDER_RULES][2]; /* contract column indexes, or -1 */
	struct value val[MAX_COLUMNS]; /* scratch reused for every row */
};

const char *entity_name(enum entity e)
{
	return entities[e].name;
}

int entity_from_name(const char *name)
{
	for (int e = 0; e < ENTITY_COUNT; e++)
		if (strcmp(entities[e].name, name) == 0)
			return e;
	return -1;
}

const char *entity_staging_table(enum entity e)
{
	return entities[e].table;
}

const char *entity_staging_columns(enum entity e)
{
	return entities[e].columns;
}

const char *reject_code(enum reject_reason r)
{
	return reject_codes[r];
}

static bool is_trim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct field trim(struct field f)
{
	while (f.len && is_trim(f.ptr[0])) {
		f.ptr++;
		f.len--;
	}
	while (f.len && is_trim(f.ptr[f.len - 1]))
		f.len--;
	return f;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII-only, so that the host's locale cannot change what matches. */
static bool same_name(const char *s, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i < len && name[i]; i++)
		if (ascii_lower(s[i]) != ascii_lower(name[i]))
			return false;
	return i == len && !name[i];
}

/* Whether name is in a NULL-terminated list (which may be NULL). */
static bool listed(const char *name, const char *const *list)
{
	for (; list && *list; list++)
		if (same_name(name, strlen(name), *list))
			return true;
	return false;
}

static int column_index(const struct entity_def *def, const char *name)
{
	for (size_t i = 0; i < def->ncols; i++)
		if (strcmp(def->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * A header name as it may be stored (reject.column_name) and logged:
 * invalid UTF-8 and NUL written \xNN, as in raw rows, so that the name of an
 * ignored column cannot make the reject store refuse the run's rejects.
 */
static char *header_name(struct field f)
{
	struct buf name;
	char *s;

	buf_init(&name, SIZE_MAX / 2);
	utf8_escape(&name, f.ptr, f.len, false);
	s = xstrndup(name.data ? name.data : "", name.len);
	buf_release(&name);
	return s;
}

/* The header's names, trimmed, without the byte-order mark of a body. */
static void copy_header(struct record_map *m, const struct field *header,
			const char *const *personal_extra)
{
	for (size_t i = 0; i < m->nheader; i++) {
		struct field f = trim(header[i]);
		if (i == 0 && f.len >= 3 &&
		    memcmp(f.ptr, "\xef\xbb\xbf", 3) == 0) {
			f.ptr += 3;
			f.len -= 3;
			f = trim(f);
		}
		m->header[i] = header_name(f);
		m->personal[i] = listed(m->header[i], builtin_personal) ||
				 listed(m->header[i], personal_extra);
	}
}

/* Find each contract column in the header; 0, or -1 with err filled. */
static int map_columns(struct record_map *m, struct buf *err)
{
	const struct entity_def *def = m->def;
	int missing = 0, rc = 0;
	struct buf names;

	buf_init(&names, 4096);
	for (size_t c = 0; c < def->ncols; c++) {
		const struct column *col = &def->cols[c];
		m->src[c] = -1;
		for (size_t i = 0; i < m->nheader; i++) {
			if (!same_name(m->header[i], strlen(m->header[i]),
				       col->name))
				continue;
			if (m->src[c] >= 0) {
				buf_addf(err, "%sduplicate column '%s'",
					 rc ? "; " : "", col->name);
				rc = -1;
			}
			m->src[c] = (int)i;
		}
		bool required = col->need == REQUIRED ||
				col->need == REQUIRED_UNLESS_STATUS;
		if (m->src[c] >= 0 && m->personal[m->src[c]]) {
			if (required) {
				buf_addf(
				    err,
				    "%srequired column '%s' cannot be personal",
				    rc ? "; " : "", col->name);
				rc = -1;
			}
			m->src[c] = -1; /* never read */
		} else if (m->src[c] < 0 && required) {
			buf_addf(&names, "%s'%s'", missing++ ? ", " : "",
				 col->name);
		}
	}
	if (missing) {
		buf_addf(err, "%smissing required column%s %s", rc ? "; " : "",
			 missing > 1 ? "s" : "", buf_str(&names));
		rc = -1;
	}
	buf_release(&names);
	return rc;
}

static void resolve_rules(struct record_map *m)
{
	const struct entity_def *def = m->def;

	m->status = def->status ? column_index(def, def->status) : -1;
	for (size_t r = 0; r < MAX_ORDER_RULES; r++) {
		const struct order_rule *rule = &def->order[r];
		m->order[r][0] =
		    rule->earlier ? column_index(def, rule->earlier) : -1;
		m->order[r][1] =
		    rule->later ? column_index(def, rule->later) : -1;
	}
}

struct record_map *record_map_new(enum entity e, const struct field *header,
				  size_t nfields,
				  const char *const *personal_extra,
				  struct buf *err)
{
	struct record_map *m = xcalloc(1, sizeof(*m));

	m->def = &entities[e];
	m->nheader = nfields;
	m->header = xcalloc(nfields ? nfields : 1, sizeof(*m->header));
	m->personal = xcalloc(nfields ? nfields : 1, sizeof(*m->personal));
	copy_header(m, header, personal_extra);
	if (map_columns(m, err) < 0) {
		record_map_free(m);
		return NULL;
	}
	resolve_rules(m);
	return m;
}

void record_map_free(struct record_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nheader; i++)
		free(m->header[i]);
	free(m->header);
	free(m->personal);
	free(m);
}

/* The row-wide checks that come before any column's. */
static enum reject_reason check_row(const struct record_map *m,
				    const struct field *fields, size_t nfields,
				    struct reject *rej)
{
	for (size_t i = 0; i < nfields; i++) {
		if (!utf8_valid(fields[i].ptr, fields[i].len)) {
			/* a field beyond the header has no name */
			rej->column = i < m->nheader ? m->header[i] : NULL;
			return REJECT_BAD_UTF8;
		}
	}
	if (nfields != m->nheader)
		return REJECT_FIELD_COUNT;
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].len > RECORD_MAX_FIELD) {
			rej->column = m->header[i];
			return REJECT_TOO_LONG;
		}
	}
	return REJECT_NONE;
}

/* Digits only (leading zeros welcome), at most max. */
static bool parse_count(const char *s, size_t len, long max, long *out)
{
	long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static bool parse_word(const struct word *words, const char *s, size_t len,
		       long *out)
{
	for (long i = 0; words && words[i].text; i++) {
		if (same_name(s, len, words[i].text)) {
			*out = i;
			return true;
		}
	}
	return false;
}

static bool status_needs(const struct record_map *m, const struct column *col)
{
	long status = m->status >= 0 ? m->val[m->status].num : 0;
	bool listed_status =
	    status >= 0 && status < 32 && (col->statuses & STATUS(status));

	switch (col->need) {
	case REQUIRED:
		return true;
	case REQUIRED_UNLESS_STATUS:
		return !listed_status;
	case REQUIRED_IF_STATUS:
		return listed_status;
	default:
		return false;
	}
}

/* Read and check one non-empty value of a column into v. */
static enum reject_reason parse_value(const struct column *col, struct value *v)
{
	long idx;

	switch (col->kind) {
	case KIND_TEXT:
		return REJECT_NONE;
	case KIND_TIME:
		return tstamp_parse(v->ptr, v->len, &v->time) < 0
			   ? REJECT_BAD_TIMESTAMP
			   : REJECT_NONE;
	case KIND_NUMBER:
		return parse_count(v->ptr, v->len, col->max, &v->num) &&
			       v->num >= col->min
			   ? REJECT_NONE
			   : REJECT_BAD_NUMBER;
	case KIND_CODE:
	case KIND_FLAG:
		if (parse_word(col->words, v->ptr, v->len, &idx)) {
			v->num = col->words[idx].value;
			return REJECT_NONE;
		}
		return parse_count(v->ptr, v->len, col->max, &v->num) &&
			       v->num >= col->min
			   ? REJECT_NONE
			   : REJECT_BAD_CODE;
	case KIND_WORD:
		return parse_word(col->words, v->ptr, v->len, &v->num)
			   ? REJECT_NONE
			   : REJECT_BAD_CODE;
	}
	return REJECT_BAD_CODE;
}

/* Each contract column in the contract's order; the first failure wins. */
static enum reject_reason check_columns(struct record_map *m,
					const struct field *fields,
					struct reject *rej)
{
	for (size_t c = 0; c < m->def->ncols; c++) {
		const struct column *col = &m->def->cols[c];
		struct value *v = &m->val[c];
		struct field f = {"", 0};

		if (m->src[c] >= 0)
			f = trim(fields[m->src[c]]);
		v->ptr = f.ptr;
		v->len = f.len;
		v->num = col->empty_as;
		enum reject_reason r = REJECT_NONE;
		if (f.len)
			r = parse_value(col, v);
		else if (status_needs(m, col))
			r = REJECT_MISSING_FIELD;
		if (r != REJECT_NONE) {
			rej->column = col->name;
			return r;
		}
	}
	return REJECT_NONE;
}

/* Local dates, not instants: a same-day answer is never out of order. */
static enum reject_reason check_order(const struct record_map *m,
				      struct reject *rej)
{
	for (size_t r = 0; r < MAX_ORDER_RULES; r++) {
		int earlier = m->order[r][0], later = m->order[r][1];
		if (earlier < 0 || later < 0 || !m->val[earlier].len ||
		    !m->val[later].len)
			continue;
		if (tstamp_local_day(m->val[later].time) <
		    tstamp_local_day(m->val[earlier].time)) {
			rej->column = m->def->cols[later].name;
			return REJECT_BAD_ORDER;
		}
	}
	return REJECT_NONE;
}

static const char *copy_escape_of(char c)
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '\t':
		return "\\t";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	default:
		return NULL;
	}
}

int copy_escape(struct buf *b, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		const char *esc = copy_escape_of(s[i]);
		if (!esc)
			continue;
		if (buf_add(b, s + run, i - run) < 0 || buf_adds(b, esc) < 0)
			return -1;
		run = i + 1;
	}
	return buf_add(b, s + run, len - run);
}

/* Binary timestamptz counts microseconds from 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_US INT64_C(946684800000000)

/*
 * Integers go in network byte order, as binary COPY has them, each from a
 * variable of its own width: bytes stored one by one and read back as a
 * word would stall every field on a failed store-to-load forward.
 */
static int put_be16(struct buf *out, uint16_t v)
{
	v = htobe16(v);
	return buf_add(out, &v, sizeof(v));
}

static int put_be32(struct buf *out, uint32_t v)
{
	v = htobe32(v);
	return buf_add(out, &v, sizeof(v));
}

static int put_be64(struct buf *out, uint64_t v)
{
	v = htobe64(v);
	return buf_add(out, &v, sizeof(v));
}

/* One field of size bytes holding v: two's complement for a negative. */
static int put_int(struct buf *out, int64_t v, size_t size)
{
	int rc = put_be32(out, (uint32_t)size);

	switch (size) {
	case 1:
		return rc | buf_addc(out, (char)(v & 0xff));
	case 2:
		return rc | put_be16(out, (uint16_t)v);
	case 4:
		return rc | put_be32(out, (uint32_t)v);
	default:
		return rc | put_be64(out, (uint64_t)v);
	}
}

/* Text goes as its bytes: check_row has made sure they are UTF-8 without
   NUL, which is all the server asks of them. */
static int put_text(struct buf *out, const char *s, size_t len)
{
	return put_be32(out, (uint32_t)len) | buf_add(out, s, len);
}

static int put_value(struct buf *out, const struct column *col,
		     const struct value *v)
{
	if (!v->len && !col->has_default)
		return buf_add(out, "\xff\xff\xff\xff", 4); /* NULL */
	switch (col->kind) {
	case KIND_TEXT:
		return put_text(out, v->ptr, v->len);
	case KIND_TIME:
		return put_int(out, v->time - PG_EPOCH_US, 8);
	case KIND_CODE:
		return put_int(out, v->num, 2);
	case KIND_NUMBER:
		return put_int(out, v->num, 4);
	case KIND_FLAG:
		return put_int(out, v->num, 1);
	case KIND_WORD:
		return put_text(out, col->words[v->num].text,
				strlen(col->words[v->num].text));
	}
	return -1;
}

/* The staging tuple; all or nothing, so that out never holds half a row. */
static int put_tuple(const struct record_map *m, long long row_number,
		     struct buf *out)
{
	size_t start = out->len;
	int rc = put_be16(out, (uint16_t)(m->def->ncols + 1)) |
		 put_int(out, row_number, 8);
	for (size_t c = 0; c < m->def->ncols && !rc; c++)
		rc = put_value(out, &m->def->cols[c], &m->val[c]);
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

int copy_binary_header(struct buf *b)
{
	/* the signature (its NUL included), flags 0, no header extension */
	static const char header[] = "PGCOPY\n\377\r\n\0"
				     "\0\0\0\0"
				     "\0\0\0\0";

	return buf_add(b, header, sizeof(header) - 1);
}

int copy_binary_trailer(struct buf *b)
{
	return buf_add(b, "\xff\xff", 2);
}

static bool needs_quotes(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

/* One field of a raw row: bad bytes as \xNN, quoted where CSV needs it. */
static int put_raw_field(struct buf *raw, const struct field *f)
{
	bool quoted = needs_quotes(f->ptr, f->len);
	int rc = quoted ? buf_addc(raw, '"') : 0;

	if (!rc)
		rc = utf8_escape(raw, f->ptr, f->len, quoted);
	if (quoted && !rc)
		rc = buf_addc(raw, '"');
	return rc;
}

/*
 * Stops at raw's cap: a cut raw row still says what it was about.  In a row
 * with more or fewer fields than the header, no field can be trusted to sit
 * under its column (an unquoted comma in DiaChi shifts the rest), so every
 * field is masked, whatever the row's reason.
 */
static void put_raw(const struct record_map *m, const struct field *fields,
		    size_t nfields, struct buf *raw)
{
	bool shifted = nfields != m->nheader;

	for (size_t i = 0; i < nfields; i++) {
		if (i && buf_addc(raw, ',') < 0)
			return;
		bool masked = shifted || m->personal[i];
		if ((masked ? buf_adds(raw, "***")
			    : put_raw_field(raw, &fields[i])) < 0)
			return;
	}
}

int record_convert(struct record_map *m, const struct field *fields,
		   size_t nfields, long long row_number, struct buf *out,
		   struct reject *rej, struct buf *raw)
{
	enum reject_reason r;

	rej->reason = REJECT_NONE;
	rej->column = NULL;
	r = check_row(m, fields, nfields, rej);
	if (r == REJECT_NONE)
		r = check_columns(m, fields, rej);
	if (r == REJECT_NONE)
		r = check_order(m, rej);
	if (r == REJECT_NONE)
		return put_tuple(m, row_number, out);
	rej->reason = r;
	put_raw(m, fields, nfields, raw);
	return 1;
}
