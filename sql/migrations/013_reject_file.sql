-- 013: the file a load-file reject came from (interfaces.md, etl.reject):
-- one invocation loads several files as one run, and a reject's row_number
-- counts within its file, so the file must be named beside it.
ALTER TABLE etl.reject ADD COLUMN file text;
COMMENT ON COLUMN etl.reject.file IS
    'the file a load-file reject came from, as given on the command line; NULL for a reject of a night';
