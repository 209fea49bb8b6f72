-- marts: the views BI tools read (interfaces.md, "what BI tools read"),
-- the words every mart column carries, and the BI role's grants on them.
-- The mart tables (unit_kpi, step_delay, compliance_*) are state: their
-- definitions are in sql/migrations/003_mart.sql, their rows are written by
-- derive.sql, kpi.sql and scores.sql.
--
-- The views run with the owner's rights, so onestop_bi needs nothing outside
-- mart.  A code re-apply drops every view first (pgload.c): this file
-- creates them again, in dependency order, and grants them again.

-- mart.dossier: the stored version with what it counts as.
CREATE VIEW mart.dossier AS
SELECT d.ma_ho_so, d.source, d.unit_code, d.procedure_code, d.channel, d.status, x.class,
       d.received_at, d.due_at, d.finished_at, d.returned_at, x.legal_days, x.extension_days,
       x.legal_due_date, x.declared_outcome, x.legal_outcome, x.masked_late, x.on_software,
       d.paid_online, d.updated_at
FROM dw.dossier d
LEFT JOIN dw.dossier_derived x USING (ma_ho_so, unit_code, home_month);

-- mart.unit: with the lineage (rules.md, "Units across reorganisations").
CREATE VIEW mart.unit AS
SELECT k.unit_code, u.unit_name, u.parent_code, u.level,
       l.to_code AS successor_code, coalesce(l.current_code, k.unit_code) AS current_code,
       l.effective AS ended_on
FROM dw.kpi_unit k
LEFT JOIN dw.unit u USING (unit_code)
LEFT JOIN dw.unit_lineage l ON l.from_code = k.unit_code;

CREATE VIEW mart.freshness AS
SELECT w.source, w.entity, w.updated_until AS watermark, s.derived_at
FROM etl.watermark w
CROSS JOIN dw.state s;

COMMENT ON VIEW mart.dossier IS
    'Hồ sơ — one row per dossier, with its legal due date and outcomes';
COMMENT ON VIEW mart.unit IS
    'Đơn vị — units, for roll-ups by parent and level';
COMMENT ON VIEW mart.freshness IS
    'Độ mới dữ liệu — how current the marts are: per source and entity, the latest CapNhatLuc loaded, and when the marts were last derived';

-- Column comments, by column name (the same name means the same thing in
-- every mart relation), with a few per-relation overrides.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        WITH comments (rel, col, txt) AS (VALUES
        (NULL, 'unit_code', 'Mã đơn vị — unit code (MaDonVi)'),
        (NULL, 'unit_name', 'Tên đơn vị — unit name (TenDonVi); NULL where donvi lacks the unit'),
        (NULL, 'parent_code', 'Mã đơn vị cha — parent unit code (MaDonViCha); NULL = top'),
        (NULL, 'level', 'Cấp đơn vị — unit level (CapDonVi): TINH, HUYEN, XA'),
        (NULL, 'successor_code', 'Mã đơn vị kế thừa — the unit that took over this code''s pending dossiers when it ended (the lineage file''s to_code); NULL if it has not ended'),
        (NULL, 'current_code', 'Mã đơn vị hiện nay — the current unit: the end of the lineage chain from this code, else the code itself'),
        (NULL, 'ended_on', 'Ngày thôi sử dụng mã — the first day this code is no longer used (the lineage file''s effective); NULL if it has not ended'),
        (NULL, 'period_kind', 'Loại kỳ — period kind: month, quarter, year'),
        (NULL, 'period_start', 'Ngày đầu kỳ — first local date of the period'),
        (NULL, 'received', 'Hồ sơ tiếp nhận — dossiers received in the period (class other than not_received, NgayTiepNhan in the period)'),
        (NULL, 'received_direct', 'Tiếp nhận trực tiếp — of received, submitted in person (KenhThucHien 1)'),
        (NULL, 'received_online', 'Tiếp nhận trực tuyến — of received, submitted online (KenhThucHien 2)'),
        (NULL, 'received_postal', 'Tiếp nhận qua bưu chính công ích — of received, by public postal service (KenhThucHien 3)'),
        (NULL, 'online_eligible', 'Hồ sơ của TTHC trực tuyến một phần/toàn trình — of received, procedure at level 3 or 4 at receipt, in person or online'),
        (NULL, 'online_eligible_online', 'Trong đó nộp trực tuyến — of online_eligible, submitted online'),
        (NULL, 'online_rate', 'Tỷ lệ hồ sơ trực tuyến — online rate: online_eligible_online / online_eligible, %, NULL when 0'),
        (NULL, 'resolved', 'Hồ sơ đã giải quyết — dossiers resolved (status 9, 10) with NgayKetThucXuLy in the period'),
        (NULL, 'resolved_early', 'Giải quyết trước hạn — of resolved, finished before the appointment (NgayHenTra)'),
        (NULL, 'resolved_on_time', 'Giải quyết đúng hạn — of resolved, finished on the appointment date'),
        (NULL, 'resolved_late', 'Giải quyết quá hạn — of resolved, finished after the appointment date'),
        (NULL, 'ontime_rate', 'Tỷ lệ đúng hạn — on-time rate: (early + on time) / resolved against the appointment, %, NULL when 0'),
        (NULL, 'resolved_late_legal', 'Quá hạn theo quy định — of resolved, finished after the legal due date'),
        (NULL, 'resolved_unknown_legal', 'Không xác định hạn theo quy định — of resolved, legal due date unknown (procedure not in the catalogue)'),
        (NULL, 'ontime_rate_legal', 'Tỷ lệ đúng hạn theo quy định — on-time rate against the legal due date: (resolved − late − unknown) / (resolved − unknown), %'),
        (NULL, 'masked_late', 'Trễ hạn bị che — masked late: on time against the appointment but late against the legal due date'),
        (NULL, 'withdrawn', 'Hồ sơ rút — of received, withdrawn (status 7)'),
        (NULL, 'on_software', 'Tiếp nhận và xử lý trên phần mềm — of received, processed on the software (log shows receipt within 24 h, handling, and result)'),
        (NULL, 'on_software_rate', 'Tỷ lệ xử lý trên phần mềm — on_software / received, %, NULL when 0'),
        (NULL, 'fee_received', 'Hồ sơ có phí, lệ phí — of received, procedure bears a fee at receipt (CoPhiLePhi)'),
        (NULL, 'paid_online', 'Thanh toán trực tuyến — of fee_received, paid online (DuocThanhToanTrucTuyen)'),
        (NULL, 'paid_online_rate', 'Tỷ lệ thanh toán trực tuyến — paid_online / fee_received, %, NULL when 0'),
        (NULL, 'procedures_total', 'Tổng số TTHC đang áp dụng — catalogue rows in force (DangApDung) at the end of the period (or at the run for a period not ended)'),
        (NULL, 'procedures_level2plus', 'TTHC mức độ 2 trở lên — of procedures_total, online level 2 or more'),
        (NULL, 'procedures_level3plus', 'TTHC mức độ 3 trở lên — of procedures_total, online level 3 or more'),
        (NULL, 'procedures_level4', 'TTHC mức độ 4 — of procedures_total, online level 4 (end to end)'),
        (NULL, 'pct_level2plus', 'Tỷ lệ TTHC mức độ 2 trở lên — procedures_level2plus / procedures_total, %'),
        (NULL, 'pct_level3plus', 'Tỷ lệ TTHC mức độ 3 trở lên — procedures_level3plus / procedures_total, %'),
        (NULL, 'pct_level4', 'Tỷ lệ TTHC mức độ 4 — procedures_level4 / procedures_total, %'),
        (NULL, 'progress_total', 'Hồ sơ tính tiến độ (QĐ 766) — dossiers received in the period (class other than not_received), as received'),
        (NULL, 'progress_in_time', 'Hồ sơ đúng tiến độ (QĐ 766) — of progress_total, in time at L = the period''s last day (or the run''s start, if earlier): closed by L early, on time or withdrawn, or open at L and NgayHenTra empty or not before L'),
        (NULL, 'progress_rate', 'Tỷ lệ tiến độ giải quyết (QĐ 766) — progress_in_time / progress_total, %, NULL when 0'),
        (NULL, 'online_full_eligible', 'Hồ sơ của TTHC toàn trình (QĐ 766) — of received, procedure at level 4 (toàn trình) in the catalogue version in force at receipt, any channel'),
        (NULL, 'online_full', 'Trong đó nộp trực tuyến — of online_full_eligible, submitted online (KenhThucHien 2)'),
        (NULL, 'online_full_rate', 'Tỷ lệ hồ sơ trực tuyến toàn trình (QĐ 766) — online_full / online_full_eligible, %, NULL when 0'),
        (NULL, 'department', 'Phòng ban xử lý — department that did the step (PhongBanXuLy); (không rõ) when empty'),
        (NULL, 'steps', 'Số bước có hạn — log steps with a step deadline (NgayKetThucTheoQuyDinh), done in the period'),
        (NULL, 'steps_late', 'Số bước trễ hạn — of steps, done on a local date after the step deadline'),
        (NULL, 'late_rate', 'Tỷ lệ bước trễ hạn — steps_late / steps, %'),
        (NULL, 'profile', 'Bộ tiêu chí — scoring profile (e.g. kh49-2021, qd766)'),
        (NULL, 'criterion', 'Tiêu chí — criterion identifier within the profile'),
        (NULL, 'label', 'Tên tiêu chí — criterion label'),
        (NULL, 'metric', 'Chỉ số — the unit_kpi rate the criterion measures'),
        (NULL, 'value', 'Giá trị — the indicator as stored in unit_kpi; NULL = criterion does not apply'),
        (NULL, 'target', 'Chỉ tiêu — target, a percentage'),
        ('compliance_score', 'max_points', 'Điểm tối đa — maximum points of the criterion'),
        ('compliance_score', 'points', 'Điểm — points: max_points when value ≥ target, else value × max_points / target (Decision 766), 2 decimals; NULL when not applicable'),
        (NULL, 'met', 'Đạt — value ≥ target; NULL when not applicable'),
        ('compliance_total', 'points', 'Tổng điểm — sum of the points of the criteria that apply (0 when none)'),
        ('compliance_total', 'max_points', 'Tổng điểm tối đa — sum of max_points of the criteria that apply (0 when none)'),
        (NULL, 'score_pct', 'Tỷ lệ điểm — points / max_points × 100, 2 decimals; NULL when max_points is 0'),
        (NULL, 'criteria_met', 'Số tiêu chí đạt — criteria met'),
        (NULL, 'criteria_applicable', 'Số tiêu chí áp dụng — criteria whose value is not NULL'),
        (NULL, 'ma_ho_so', 'Mã hồ sơ — dossier code (MaHoSo), national key'),
        (NULL, 'source', 'Nguồn — the configured source the current version came from'),
        (NULL, 'procedure_code', 'Mã thủ tục hành chính — procedure code (MaTTHC)'),
        (NULL, 'channel', 'Kênh thực hiện — channel (KenhThucHien): 1 in person, 2 online, 3 postal'),
        (NULL, 'status', 'Trạng thái hồ sơ — dossier status (TrangThaiHoSo) 1..10'),
        (NULL, 'class', 'Nhóm trạng thái — dossier class: not_received, in_progress, paused, withdrawn, resolved'),
        (NULL, 'received_at', 'Ngày tiếp nhận — received (NgayTiepNhan)'),
        (NULL, 'due_at', 'Ngày hẹn trả — appointment the software shows now (NgayHenTra)'),
        (NULL, 'finished_at', 'Ngày kết thúc xử lý — processing finished, result ready (NgayKetThucXuLy)'),
        (NULL, 'returned_at', 'Ngày trả kết quả — result delivered (NgayTra)'),
        (NULL, 'legal_days', 'Thời hạn giải quyết — N, legal processing time in working days of the catalogue version in force at receipt'),
        (NULL, 'extension_days', 'Số ngày bổ sung — working days the clock stopped for returned supplements'),
        (NULL, 'legal_due_date', 'Hạn giải quyết theo quy định — legal due date (local date); NULL when the procedure is not in the catalogue'),
        (NULL, 'declared_outcome', 'Kết quả theo ngày hẹn — outcome against the appointment: early, on_time, late; NULL unless resolved'),
        (NULL, 'legal_outcome', 'Kết quả theo quy định — outcome against the legal due date: early, on_time, late, unknown; NULL unless resolved'),
        ('dossier', 'masked_late', 'Trễ hạn bị che — declared early or on time but legally late; NULL unless resolved'),
        ('dossier', 'on_software', 'Xử lý trên phần mềm — processed on the software; NULL for not_received'),
        ('dossier', 'paid_online', 'Thanh toán trực tuyến — the source''s flag DuocThanhToanTrucTuyen'),
        (NULL, 'updated_at', 'Cập nhật lúc — last change at the source (CapNhatLuc)'),
        ('freshness', 'entity', 'Thực thể — entity: donvi, thutuc, hoso, bosung, quatrinh'),
        ('freshness', 'watermark', 'Mốc dữ liệu — latest CapNhatLuc loaded from the source for the entity (the source''s clock)'),
        ('freshness', 'derived_at', 'Thời điểm tính chỉ số — when the marts were last derived'))
        SELECT a.attrelid::regclass AS rel, a.attname,
               coalesce((SELECT txt FROM comments m
                         WHERE m.col = a.attname AND m.rel = cl.relname),
                        (SELECT txt FROM comments m
                         WHERE m.col = a.attname AND m.rel IS NULL)) AS txt
        FROM pg_attribute a
        JOIN pg_class cl ON cl.oid = a.attrelid
        WHERE cl.relnamespace = 'mart'::regnamespace
          AND cl.relkind IN ('r', 'v', 'm', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        IF c.txt IS NULL THEN
            RAISE EXCEPTION 'no comment for column %.%', c.rel, c.attname;
        END IF;
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, c.txt);
    END LOOP;
END
$$;

-- ------------------------------------------------------------ form 06
-- The rows and the columns are form06.sql's (dw.form06_period,
-- dw.form06_columns); these are how BI reads them.

CREATE VIEW mart.form06 AS
SELECT p.unit_code, p.field_code, coalesce(f.field_name, '(không rõ)') AS field_name,
       p.period_kind, p.period_label, p.first_day, p.last_day,
       p.received_total, p.received_online, p.received_offline, p.carried_over,
       p.resolved_total, p.resolved_early, p.resolved_on_time, p.resolved_late,
       p.pending_total, p.pending_in_time, p.pending_overdue,
       p.of_which_withdrawn, p.resolved_late_legal, p.resolved_unknown_legal,
       p.masked_late, p.pending_overdue_legal
FROM dw.form06_period p
LEFT JOIN dw.form06_field f USING (field_code);

-- Form 06 for any range of days, both bounds inclusive: the running sums
-- of the same events through the day before p_first and through p_last.
CREATE FUNCTION mart.form06_range(p_first date, p_last date)
RETURNS TABLE (unit_code text, field_code text, field_name text, first_day date,
               last_day date, received_total int, received_online int,
               received_offline int, carried_over int, resolved_total int,
               resolved_early int, resolved_on_time int, resolved_late int,
               pending_total int, pending_in_time int, pending_overdue int,
               of_which_withdrawn int, resolved_late_legal int,
               resolved_unknown_legal int, masked_late int, pending_overdue_legal int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.unit_code, s.field_code, coalesce(n.field_name, '(không rõ)'), p_first, p_last,
           c.*
    FROM (SELECT d.unit_code, d.field_code,
                 ARRAY[sum(d.received_online) FILTER (WHERE d.day < p_first),
                       sum(d.received_offline) FILTER (WHERE d.day < p_first),
                       sum(d.resolved_early) FILTER (WHERE d.day < p_first),
                       sum(d.resolved_on_time) FILTER (WHERE d.day < p_first),
                       sum(d.resolved_late) FILTER (WHERE d.day < p_first),
                       sum(d.withdrawn) FILTER (WHERE d.day < p_first),
                       sum(d.resolved_late_legal) FILTER (WHERE d.day < p_first),
                       sum(d.resolved_unknown_legal) FILTER (WHERE d.day < p_first),
                       sum(d.masked_late) FILTER (WHERE d.day < p_first),
                       sum(d.pending_in_time) FILTER (WHERE d.day < p_first),
                       sum(d.pending_overdue) FILTER (WHERE d.day < p_first),
                       sum(d.pending_overdue_legal) FILTER (WHERE d.day < p_first)]::int[] AS b,
                 ARRAY[sum(d.received_online), sum(d.received_offline), sum(d.resolved_early),
                       sum(d.resolved_on_time), sum(d.resolved_late), sum(d.withdrawn),
                       sum(d.resolved_late_legal), sum(d.resolved_unknown_legal),
                       sum(d.masked_late), sum(d.pending_in_time), sum(d.pending_overdue),
                       sum(d.pending_overdue_legal)]::int[] AS u
          FROM dw.form06_day d
          WHERE d.day <= p_last
          GROUP BY d.unit_code, d.field_code) s
    CROSS JOIN LATERAL dw.form06_columns(
        (SELECT array_agg(coalesce(x, 0)) FROM unnest(s.b) x), s.u) c
    LEFT JOIN dw.form06_field n ON n.field_code = s.field_code
    WHERE p_first <= p_last
      AND (c.received_total <> 0 OR c.resolved_total <> 0 OR c.pending_total <> 0)
$$;

-- ------------------------------------------------------------ comments

COMMENT ON VIEW mart.form06 IS
    'Biểu số 06/VPCP/KSTT — form 06 (reports.md): dossiers received, resolved and pending per unit, field and report period (Decree 09/2019: the 15th to the 14th), kept by every load; a row where any count is not zero';
COMMENT ON FUNCTION mart.form06_range(date, date) IS
    'Biểu số 06 cho khoảng ngày bất kỳ — form 06 for any range of local dates, both inclusive (a calendar month, a custom window): the columns of mart.form06 without the period, one row per unit and field with a count not zero';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT * FROM (VALUES
        ('unit_code', 'Mã đơn vị — the dossier''s own unit (MaDonVi)'),
        ('field_code', 'Mã lĩnh vực — trimmed MaLinhVuc of the procedure''s catalogue version in force at NgayTiepNhan; (không rõ) without one'),
        ('field_name', 'Tên lĩnh vực — trimmed TenLinhVuc of the latest catalogue version with that field code'),
        ('period_kind', 'Loại kỳ báo cáo — report_month, report_quarter, report_half, report_year (Decree 09/2019: 15th to 14th)'),
        ('period_label', 'Kỳ báo cáo — 2021-03, 2021-Q1, 2021-H1, 2021'),
        ('first_day', 'Từ ngày — first local date of the period'),
        ('last_day', 'Đến ngày — last local date of the period'),
        ('received_total', '(3) Tổng số hồ sơ nhận giải quyết — cols 4 + 5 + 6'),
        ('received_online', '(4) Tiếp nhận trong kỳ trực tuyến — receipt day in the period, KenhThucHien 2'),
        ('received_offline', '(5) Tiếp nhận trong kỳ trực tiếp, dịch vụ bưu chính — receipt day in the period, KenhThucHien 1 or 3'),
        ('carried_over', '(6) Từ kỳ trước chuyển sang — received before the period, not closed before its first day'),
        ('resolved_total', '(7) Tổng số hồ sơ đã giải quyết — cols 8 + 9 + 10'),
        ('resolved_early', '(8) Trước hạn — resolved, closing day in the period, declared early'),
        ('resolved_on_time', '(9) Đúng hạn — resolved on time, plus every withdrawal closed in the period'),
        ('resolved_late', '(10) Quá hạn — resolved, closing day in the period, declared late'),
        ('pending_total', '(11) Tổng số hồ sơ đang giải quyết — cols 12 + 13'),
        ('pending_in_time', '(12) Trong hạn — held at the end of the last day, NgayHenTra empty or not before it'),
        ('pending_overdue', '(13) Quá hạn — held at the end of the last day, NgayHenTra before it'),
        ('of_which_withdrawn', 'Trong đó hồ sơ xin rút — the withdrawals counted in col 9'),
        ('resolved_late_legal', 'Quá hạn theo luật — of col 7''s resolved dossiers, legal outcome late'),
        ('resolved_unknown_legal', 'Chưa xác định hạn luật — of col 7''s resolved dossiers, legal outcome unknown'),
        ('masked_late', 'Trễ bị che — of col 7''s resolved dossiers, declared early or on time but legally late'),
        ('pending_overdue_legal', 'Đang giải quyết quá hạn luật — of col 11, legal_due_date before the last day, no supplement outstanding')
        ) v (col, txt)
    LOOP
        EXECUTE format('COMMENT ON COLUMN mart.form06.%I IS %L', c.col, c.txt);
    END LOOP;
END
$$;

-- ------------------------------------------------------------ by current unit
-- mart.unit_kpi and mart.form06 summed by current unit (rules.md, "Units
-- across reorganisations"): their columns, generated from the relations
-- themselves, so a column added there is rolled up here
-- (etl._by_current_unit_sql, lineage.sql; the rates by dw.kpi_rates).
DO $$
BEGIN
    EXECUTE 'CREATE VIEW mart.unit_kpi_current AS '
            || etl._by_current_unit_sql('mart.unit_kpi', ARRAY['period_kind', 'period_start']);
    EXECUTE 'CREATE VIEW mart.form06_current AS '
            || etl._by_current_unit_sql('mart.form06', ARRAY['field_code', 'field_name',
                   'period_kind', 'period_label', 'first_day', 'last_day']);
    PERFORM etl._comment_by_current_unit('mart.unit_kpi_current', 'mart.unit_kpi');
    PERFORM etl._comment_by_current_unit('mart.form06_current', 'mart.form06');
END
$$;
COMMENT ON VIEW mart.unit_kpi_current IS
    'Chỉ số theo đơn vị hiện nay — mart.unit_kpi by current unit: every count summed over the unit and its predecessors, every rate recomputed from the sums';
COMMENT ON VIEW mart.form06_current IS
    'Biểu số 06 theo đơn vị hiện nay — mart.form06 by current unit: the counts of the unit and its predecessors summed per field and report period';

-- The BI role reads the views and may run the function
-- (sql/migrations/003_mart.sql makes the role and grants it the tables);
-- without the role, that migration warned.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'onestop_bi') THEN
        GRANT SELECT ON ALL TABLES IN SCHEMA mart TO onestop_bi;
        GRANT EXECUTE ON FUNCTION mart.form06_range(date, date) TO onestop_bi;
    END IF;
END
$$;
