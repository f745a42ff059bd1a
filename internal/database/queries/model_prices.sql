-- name: ModelPriceListAll :many
-- Every price row, for the in-memory book each replica keeps (a few hundred
-- rows at most).
SELECT * FROM model_prices
ORDER BY provider_type, model, source, effective_from, min_input_tokens;

-- name: ModelPriceGet :one
SELECT * FROM model_prices WHERE id = sqlc.arg(id);

-- name: ModelPriceUpsertOverride :one
-- An operator's price: a new row, or new prices for the row of the same key
-- (provider type, model, tier, effective_from). Returns the row, and whether
-- it was inserted.
INSERT INTO model_prices AS p (id, source, provider_type, model, min_input_tokens, effective_from, input, output,
                               cache_read, cache_write_5m, cache_write_1h, reasoning, note, created_at, updated_at)
VALUES (sqlc.arg(id), 'override', sqlc.arg(provider_type), sqlc.arg(model), sqlc.arg(min_input_tokens),
        sqlc.arg(effective_from), sqlc.arg(input), sqlc.arg(output), sqlc.arg(cache_read), sqlc.arg(cache_write_5m),
        sqlc.arg(cache_write_1h), sqlc.narg(reasoning), sqlc.arg(note), sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (source, provider_type, model, min_input_tokens, effective_from) DO UPDATE
SET input = excluded.input, output = excluded.output, cache_read = excluded.cache_read,
    cache_write_5m = excluded.cache_write_5m, cache_write_1h = excluded.cache_write_1h,
    reasoning = excluded.reasoning, note = excluded.note, updated_at = excluded.updated_at
RETURNING p.*, (p.xmax = 0)::boolean AS inserted;

-- name: ModelPriceGetOverrideByKey :one
-- The override of this key, before an upsert changes it (for the audit).
SELECT * FROM model_prices
WHERE source = 'override' AND provider_type = sqlc.arg(provider_type) AND model = sqlc.arg(model)
  AND min_input_tokens = sqlc.arg(min_input_tokens) AND effective_from = sqlc.arg(effective_from);

-- name: ModelPriceDeleteOverride :one
-- Only overrides can be deleted: the default rows are the shipped book's.
DELETE FROM model_prices WHERE id = sqlc.arg(id) AND source = 'override' RETURNING *;

-- name: ModelPriceInsertDefault :copyfrom
INSERT INTO model_prices (id, source, provider_type, model, min_input_tokens, effective_from, input, output,
                          cache_read, cache_write_5m, cache_write_1h, reasoning, note, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(source), sqlc.arg(provider_type), sqlc.arg(model), sqlc.arg(min_input_tokens),
        sqlc.arg(effective_from), sqlc.arg(input), sqlc.arg(output), sqlc.arg(cache_read), sqlc.arg(cache_write_5m),
        sqlc.arg(cache_write_1h), sqlc.narg(reasoning), sqlc.arg(note), sqlc.arg(created_at), sqlc.arg(updated_at));

-- name: ModelPriceDeleteDefaultFrom :execrows
-- The default rows a newer book replaces: those of its own date or later (a
-- re-run of the same load), so the older books' rows stay for the requests
-- that started before it.
DELETE FROM model_prices WHERE source = 'default' AND effective_from >= sqlc.arg(effective_from);

-- name: PriceBookStateGet :one
SELECT default_as_of, loaded_at, loaded_by FROM price_book_state;

-- name: PriceBookStateSet :exec
UPDATE price_book_state
SET default_as_of = sqlc.arg(default_as_of), loaded_at = sqlc.arg(loaded_at), loaded_by = sqlc.arg(loaded_by)::uuid;
