-- 016: what a dossier counts as in form 06 is kept on its derived row, not
-- in a table of its own.  Its facts were a second derivation of the same
-- dossier (dw.form06_fact, 012): every changed dossier cost a night one
-- more lookup and one more write, and a full load one more table of a
-- million rows.  The other facts form 06 reads (receipt, closing and due
-- days, class, outcomes, legal due date, channel) were already there; the
-- two it adds are these.  A warehouse derived before them gets them from
-- etl.after_migrate (sql/code/admin.sql), which derives everything again.
ALTER TABLE dw.dossier_derived
    ADD COLUMN field_code  text,            -- trimmed MaLinhVuc in force at receipt, or '(không rõ)'
    ADD COLUMN legal_stops datemultirange;  -- days at whose end a supplement is outstanding

DROP TABLE dw.form06_fact;
