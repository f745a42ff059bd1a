-- Emails are stored in the form internal/users/emailaddr.Normalize gives
-- (NFKC, then Unicode case folding; docs/users-and-tokens.md), so the unique
-- index users_email_idx is on that form and two spellings of one person
-- cannot be two users. PostgreSQL before 18 cannot compute the rule, so the
-- existing rows are re-normalised by this migration's Go step
-- (migrations.Steps), which runs right after this file in the same
-- transaction and fails, naming the users, if two of them would end up with
-- one email: accounts are never merged. The ALTER TABLE holds users locked
-- until the commit, so no row changes in between.
--
-- lower() is not the rule (it leaves ſ as it is, and folding turns Cherokee
-- letters into capitals), so the old check goes.
ALTER TABLE users DROP CONSTRAINT users_email_check;
ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '');

COMMENT ON COLUMN users.email IS 'Normalised by internal/users/emailaddr.Normalize; unique in that form.';
