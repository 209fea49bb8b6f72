/*
 * form06_xlsx.c - form 06 as the workbook people send (libxlsxwriter):
 * sheet "Biểu 06" laid out as the official form, "Theo luật" with our
 * columns beside the official ones, "Ghi chú" saying what each counts.
 * Every count is written as a number, totals included.
 */
#include "form06.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define LAST_COL 12   /* M: column (13) */
#define HEAD_ROW 6    /* the three header rows start here */
#define NUMBERS_ROW 9 /* (1) ... (13) */
#define FIRST_LINE 10

struct formats {
	lxw_format *title, *bold, *italic, *plain, *right, *center;
	lxw_format *head, *numbers_row;
	lxw_format *name[4], *num[4], *stt[4]; /* by enum form06_line_kind */
	lxw_format *note;
};

static lxw_format *new_format(lxw_workbook *wb)
{
	lxw_format *f = workbook_add_format(wb);
	format_set_font_name(f, "Times New Roman");
	format_set_font_size(f, 12);
	return f;
}

static lxw_format *cell_format(lxw_workbook *wb, bool bold, bool number,
			       int indent)
{
	lxw_format *f = new_format(wb);
	format_set_border(f, LXW_BORDER_THIN);
	format_set_align(f, LXW_ALIGN_VERTICAL_CENTER);
	if (bold)
		format_set_bold(f);
	if (number)
		format_set_num_format(f, "#,##0");
	if (indent)
		format_set_indent(f, (uint8_t)indent);
	return f;
}

static void make_formats(lxw_workbook *wb, struct formats *f)
{
	f->title = new_format(wb);
	format_set_bold(f->title);
	format_set_font_size(f->title, 13);
	format_set_align(f->title, LXW_ALIGN_CENTER);
	format_set_align(f->title, LXW_ALIGN_VERTICAL_CENTER);
	format_set_text_wrap(f->title);
	f->bold = new_format(wb);
	format_set_bold(f->bold);
	f->italic = new_format(wb);
	format_set_italic(f->italic);
	f->plain = new_format(wb);
	f->right = new_format(wb);
	format_set_align(f->right, LXW_ALIGN_RIGHT);
	f->center = new_format(wb);
	format_set_align(f->center, LXW_ALIGN_CENTER);
	f->head = cell_format(wb, true, false, 0);
	format_set_align(f->head, LXW_ALIGN_CENTER);
	format_set_text_wrap(f->head);
	f->numbers_row = cell_format(wb, false, false, 0);
	format_set_align(f->numbers_row, LXW_ALIGN_CENTER);
	format_set_italic(f->numbers_row);
	f->name[F06_LEVEL] = cell_format(wb, true, false, 0);
	f->name[F06_UNIT] = cell_format(wb, true, false, 0);
	f->name[F06_FIELD] = cell_format(wb, false, false, 1);
	f->name[F06_TOTAL] = cell_format(wb, true, false, 0);
	format_set_align(f->name[F06_TOTAL], LXW_ALIGN_CENTER);
	for (int k = 0; k < 4; k++) {
		f->num[k] = cell_format(wb, k != F06_FIELD, true, 0);
		f->stt[k] = cell_format(wb, k != F06_FIELD, false, 0);
		format_set_align(f->stt[k], LXW_ALIGN_CENTER);
	}
	f->note = new_format(wb);
	format_set_text_wrap(f->note);
	format_set_align(f->note, LXW_ALIGN_VERTICAL_TOP);
}

/* ---- sheet "Biểu 06" ---- */

static void write_heading(lxw_worksheet *ws, const struct form06_report *rep,
			  const struct formats *f)
{
	char line[512];
	worksheet_merge_range(ws, 0, 0, 0, 4, "Biểu số 06/VPCP/KSTT", f->bold);
	worksheet_merge_range(
	    ws, 1, 0, 1, 4,
	    "Ban hành theo Thông tư số 01/2020/TT-VPCP ngày 21/10/2020",
	    f->italic);
	snprintf(line, sizeof(line), "Đơn vị báo cáo: %s", rep->reporting_body);
	worksheet_merge_range(ws, 0, 7, 0, LAST_COL, line, f->plain);
	snprintf(line, sizeof(line), "Đơn vị nhận báo cáo: %s", rep->recipient);
	worksheet_merge_range(ws, 1, 7, 1, LAST_COL, line, f->plain);
	worksheet_merge_range(
	    ws, 3, 0, 3, LAST_COL,
	    "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, "
	    "ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
	    f->title);
	worksheet_set_row(ws, 3, 36, NULL);
	snprintf(line, sizeof(line), "Kỳ báo cáo: %s", rep->period.title);
	worksheet_merge_range(ws, 4, 0, 4, LAST_COL, line, f->center);
	worksheet_merge_range(ws, 5, 0, 5, 4, "Đơn vị tính: Số hồ sơ TTHC",
			      f->italic);
	snprintf(line, sizeof(line), "Số liệu tính đến: %s", rep->freshness);
	worksheet_merge_range(ws, 5, 7, 5, LAST_COL, line, f->right);
}

/* The three header rows, merged as the official form, and (1)..(13). */
static void write_header(lxw_worksheet *ws, const struct formats *f)
{
	const lxw_row_t r = HEAD_ROW;
	worksheet_merge_range(ws, r, 0, r + 2, 0, "STT", f->head);
	worksheet_merge_range(ws, r, 1, r + 2, 1, "Đơn vị, lĩnh vực giải quyết",
			      f->head);
	worksheet_merge_range(ws, r, 2, r, 5, "Số hồ sơ nhận giải quyết",
			      f->head);
	worksheet_merge_range(ws, r, 6, r, 9, "Số hồ sơ đã giải quyết",
			      f->head);
	worksheet_merge_range(ws, r, 10, r, 12, "Số hồ sơ đang giải quyết",
			      f->head);
	worksheet_merge_range(ws, r + 1, 2, r + 2, 2, "Tổng số", f->head);
	worksheet_merge_range(ws, r + 1, 3, r + 1, 4, "Trong kỳ", f->head);
	worksheet_write_string(ws, r + 2, 3, "Trực tuyến", f->head);
	worksheet_write_string(ws, r + 2, 4, "Trực tiếp, dịch vụ bưu chính",
			       f->head);
	worksheet_merge_range(ws, r + 1, 5, r + 2, 5, "Từ kỳ trước", f->head);
	static const char *const second[] = {
	    "Tổng số", "Trước hạn", "Đúng hạn (*)", "Quá hạn",
	    "Tổng số", "Trong hạn", "Quá hạn"};
	for (int c = 0; c < 7; c++)
		worksheet_merge_range(ws, r + 1, (lxw_col_t)(6 + c), r + 2,
				      (lxw_col_t)(6 + c), second[c], f->head);
	for (int c = 0; c <= LAST_COL; c++) {
		char n[16];
		snprintf(n, sizeof(n), "(%d)", c + 1);
		worksheet_write_string(ws, NUMBERS_ROW, (lxw_col_t)c, n,
				       f->numbers_row);
	}
	worksheet_set_row(ws, r + 2, 48, NULL);
}

/* One line: STT, name, then counts [first, first + n) from column 2. */
static void write_line(lxw_worksheet *ws, lxw_row_t row,
		       const struct form06_line *l, int first, int n,
		       const struct formats *f)
{
	worksheet_write_string(ws, row, 0, l->number, f->stt[l->kind]);
	worksheet_write_string(ws, row, 1, l->name, f->name[l->kind]);
	for (int c = 0; c < n; c++)
		worksheet_write_number(ws, row, (lxw_col_t)(2 + c),
				       (double)l->v[first + c],
				       f->num[l->kind]);
}

static void write_footer(lxw_worksheet *ws, lxw_row_t row,
			 const struct form06_report *rep,
			 const struct formats *f)
{
	char note[128];
	long withdrawn = rep->nlines ? rep->lines[rep->nlines - 1].v[11] : 0;
	snprintf(note, sizeof(note), "(*) Cột (9) gồm cả %ld hồ sơ xin rút.",
		 withdrawn);
	worksheet_merge_range(ws, row + 1, 0, row + 1, LAST_COL, note,
			      f->italic);
	worksheet_merge_range(ws, row + 3, 0, row + 3, 4, "Người lập biểu",
			      f->title);
	worksheet_merge_range(ws, row + 4, 0, row + 4, 4, "(Ký, ghi rõ họ tên)",
			      f->center);
	worksheet_merge_range(ws, row + 3, 8, row + 3, LAST_COL,
			      "Thủ trưởng đơn vị", f->title);
	worksheet_merge_range(ws, row + 4, 8, row + 4, LAST_COL,
			      "(Ký tên, đóng dấu)", f->center);
}

static void write_form(lxw_workbook *wb, const struct form06_report *rep,
		       const struct formats *f)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Biểu 06");
	worksheet_set_column(ws, 0, 0, 6, NULL);
	/* the longest names (a ward and its town; a field of 52 letters) on one
	 * line */
	worksheet_set_column(ws, 1, 1, 60, NULL);
	worksheet_set_column(ws, 2, LAST_COL, 10.5, NULL);
	write_heading(ws, rep, f);
	write_header(ws, f);
	lxw_row_t row = FIRST_LINE;
	for (size_t i = 0; i < rep->nlines; i++, row++)
		write_line(ws, row, &rep->lines[i], 0, 11, f);
	write_footer(ws, row, rep, f);
	worksheet_freeze_panes(ws, FIRST_LINE, 2);
	worksheet_set_landscape(ws);
	worksheet_set_paper(ws, 9); /* A4 */
	worksheet_set_margins(ws, 0.4, 0.4, 0.5, 0.5);
	worksheet_fit_to_pages(ws, 1, 0);
	worksheet_repeat_rows(ws, HEAD_ROW, NUMBERS_ROW);
	worksheet_print_area(ws, 0, 0, row + 5, LAST_COL);
	worksheet_activate(ws);
}

/* ---- sheet "Theo luật": our columns, the same rows ---- */

static void write_legal(lxw_workbook *wb, const struct form06_report *rep,
			const struct formats *f)
{
	static const char *const head[] = {
	    "Trong đó hồ sơ xin rút (tính vào cột 9)",
	    "Đã giải quyết quá hạn theo luật",
	    "Đã giải quyết chưa xác định được hạn luật",
	    "Đúng hạn theo phần mềm nhưng quá hạn theo luật",
	    "Đang giải quyết quá hạn theo luật",
	};
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Theo luật");
	worksheet_set_column(ws, 0, 0, 6, NULL);
	worksheet_set_column(ws, 1, 1, 60, NULL);
	worksheet_set_column(ws, 2, 6, 24, NULL);
	char line[256];
	snprintf(line, sizeof(line),
		 "Biểu 06, các cột theo luật — Kỳ báo cáo: %s",
		 rep->period.title);
	worksheet_merge_range(ws, 0, 0, 0, 6, line, f->bold);
	worksheet_write_string(ws, 2, 0, "STT", f->head);
	worksheet_write_string(ws, 2, 1, "Đơn vị, lĩnh vực giải quyết",
			       f->head);
	for (int c = 0; c < 5; c++) {
		worksheet_write_string(ws, 2, (lxw_col_t)(2 + c), head[c],
				       f->head);
		worksheet_write_string(ws, 3, (lxw_col_t)(2 + c),
				       form06_count_names[11 + c],
				       f->numbers_row);
	}
	worksheet_write_string(ws, 3, 0, "", f->numbers_row);
	worksheet_write_string(ws, 3, 1, "", f->numbers_row);
	worksheet_set_row(ws, 2, 64, NULL);
	for (size_t i = 0; i < rep->nlines; i++)
		write_line(ws, (lxw_row_t)(4 + i), &rep->lines[i], 11, 5, f);
	worksheet_freeze_panes(ws, 4, 2);
	worksheet_repeat_rows(ws, 2, 3);
	worksheet_set_landscape(ws);
	worksheet_set_paper(ws, 9);
	worksheet_fit_to_pages(ws, 1, 0);
}

/* ---- sheet "Ghi chú" ---- */

static const char *const notes[][2] = {
    {"(3) Tổng số", "received_total = (4) + (5) + (6)."},
    {"(4) Trực tuyến", "received_online: hồ sơ có ngày tiếp nhận trong kỳ, nộp "
		       "trực tuyến (KenhThucHien 2)."},
    {"(5) Trực tiếp, dịch vụ bưu chính",
     "received_offline: ngày tiếp nhận trong kỳ, nộp trực tiếp hoặc qua bưu "
     "chính (KenhThucHien 1, 3)."},
    {"(6) Từ kỳ trước", "carried_over: tiếp nhận trước ngày đầu kỳ, chưa kết "
			"thúc trước ngày đầu kỳ (= cột 11 của kỳ trước)."},
    {"(7) Tổng số", "resolved_total = (8) + (9) + (10)."},
    {"(8) Trước hạn", "resolved_early: đã giải quyết, ngày kết thúc xử lý "
		      "trong kỳ, trước ngày hẹn trả."},
    {"(9) Đúng hạn", "resolved_on_time: đã giải quyết đúng ngày hẹn trả, cộng "
		     "mọi hồ sơ xin rút kết thúc trong kỳ (ngày của bước xử lý "
		     "7 đầu tiên; không có thì ngày cập nhật cuối)."},
    {"(10) Quá hạn", "resolved_late: đã giải quyết sau ngày hẹn trả."},
    {"(11) Tổng số", "pending_total = (12) + (13): tiếp nhận đến hết ngày cuối "
		     "kỳ, chưa kết thúc đến hết ngày đó."},
    {"(12) Trong hạn", "pending_in_time: chưa có ngày hẹn trả, hoặc ngày hẹn "
		       "trả không trước ngày cuối kỳ."},
    {"(13) Quá hạn", "pending_overdue: ngày hẹn trả trước ngày cuối kỳ."},
    {"Hồ sơ xin rút",
     "of_which_withdrawn: số hồ sơ xin rút đã tính vào cột (9)."},
    {"Quá hạn theo luật",
     "resolved_late_legal: hồ sơ đã giải quyết sau hạn theo quy định (ngày "
     "tiếp nhận + thời hạn giải quyết của TTHC + thời gian bổ sung), dù phần "
     "mềm ghi đúng hạn."},
    {"Chưa xác định hạn luật", "resolved_unknown_legal: TTHC không có trong "
			       "danh mục, không tính được hạn theo quy định."},
    {"Trễ bị che", "masked_late: phần mềm ghi trước hạn hoặc đúng hạn, nhưng "
		   "quá hạn theo quy định (ngày hẹn trả đã bị lùi)."},
    {"Đang quá hạn theo luật",
     "pending_overdue_legal: trong cột (11), hạn theo quy định trước ngày cuối "
     "kỳ, trừ khi đang chờ công dân bổ sung hồ sơ."},
    {"Cách tính kỳ báo cáo",
     "Nghị định 09/2019/NĐ-CP: từ ngày 15 tháng trước đến ngày "
     "14 của tháng cuối kỳ. Mọi ngày tính theo giờ Việt Nam."},
};

static void write_notes(lxw_workbook *wb, const struct form06_report *rep,
			const struct formats *f)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Ghi chú");
	worksheet_set_column(ws, 0, 0, 30, NULL);
	worksheet_set_column(ws, 1, 1, 100, NULL);
	worksheet_set_landscape(ws);
	worksheet_set_paper(ws, 9);
	worksheet_fit_to_pages(ws, 1, 0);
	worksheet_write_string(ws, 0, 0, "Cột", f->bold);
	worksheet_write_string(ws, 0, 1, "Đếm gì", f->bold);
	lxw_row_t row = 1;
	for (size_t i = 0; i < ARRAY_SIZE(notes); i++, row++) {
		worksheet_write_string(ws, row, 0, notes[i][0], f->note);
		worksheet_write_string(ws, row, 1, notes[i][1], f->note);
		/* a reader that does not fit rows to wrapped text (LibreOffice
		 * with these files) would draw a long note over the next */
		size_t chars = 0;
		for (const char *c = notes[i][1]; *c; c++)
			chars += ((unsigned char)*c & 0xc0) != 0x80;
		worksheet_set_row(ws, row, 16.0 * (double)(1 + chars / 110),
				  NULL);
	}
	row++;
	worksheet_write_string(ws, row, 0, "Kỳ báo cáo", f->bold);
	worksheet_write_string(ws, row++, 1, rep->period.title, f->plain);
	worksheet_write_string(ws, row, 0, "Số liệu tính đến", f->bold);
	worksheet_write_string(ws, row++, 1, rep->freshness, f->plain);
	worksheet_write_string(ws, row, 0, "Lập lúc", f->bold);
	worksheet_write_string(ws, row++, 1, rep->produced, f->plain);
	worksheet_write_string(ws, row, 0, "Nguồn", f->bold);
	worksheet_write_string(ws, row, 1,
			       rep->period.report
				   ? "onestop-etl form06: mart.form06"
				   : "onestop-etl form06: mart.form06_range",
			       f->plain);
}

int form06_write_xlsx(const struct form06_report *rep, const char *path,
		      struct buf *err)
{
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	lxw_workbook_options options = {.constant_memory = LXW_FALSE,
					.tmpdir = NULL};
	lxw_workbook *wb = workbook_new_opt(tmp, &options);
	int rc = -1;
	if (!wb) {
		buf_addf(err, "cannot create '%s'", tmp);
		goto out;
	}
	struct formats f;
	make_formats(wb, &f);
	write_form(wb, rep, &f);
	write_legal(wb, rep, &f);
	write_notes(wb, rep, &f);
	lxw_error e = workbook_close(wb);
	if (e != LXW_NO_ERROR) {
		buf_addf(err, "cannot write '%s': %s", tmp, lxw_strerror(e));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		buf_addf(err, "cannot rename '%s' to '%s': %s", tmp, path,
			 strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
