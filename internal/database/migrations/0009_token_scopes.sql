-- Where a token may be used: 'gateway' (the /ai/ routes) and 'api' (the
-- admin API under /api/v1). A token pasted into a coding agent should not
-- carry admin rights, so new tokens name their scopes (login tokens are
-- 'api', `aigate tokens create` makes 'gateway' ones unless asked).
--
-- Tokens made before scopes existed worked everywhere; they keep both, so an
-- upgrade breaks no client. docs/users-and-tokens.md says how to narrow them.
-- The default only fills the existing rows (a constant default costs no
-- table rewrite) and is dropped at once: every insert must say.
ALTER TABLE api_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{gateway,api}';
ALTER TABLE api_tokens ALTER COLUMN scopes DROP DEFAULT;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
    CHECK (cardinality(scopes) > 0 AND scopes <@ '{gateway,api}'::text[]);
