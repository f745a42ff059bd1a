// Package pricing owns the price book: the model_prices rows (the default
// book shipped in the binary, defaultbook.json, and operators' overrides),
// the load of a newer default book at startup, the immutable Book snapshot
// every replica prices its requests with, kept current by change
// notifications, and the cost of a request's usage in integer micro-dollars
// (Price.Cost).
//
// # Load and reload
//
//	replica A (starting)                PostgreSQL                 replica B (running)
//	   │ BEGIN; pg_advisory_xact_lock(price_book)                        │
//	   │ read price_book_state.default_as_of ◀──                         │
//	   │ older than the shipped as_of (or none)?                         │
//	   │   yes: delete the default rows effective from as_of on,         │
//	   │        COPY the shipped rows (effective_from = as_of),          │
//	   │        set default_as_of, NOTIFY aigate_prices_changed          │
//	   │   no:  nothing (the same book again is a no-op)                 │
//	   │ COMMIT ───────────────────────────▶ notification ──────────────▶│ Trigger
//	   │ LISTEN aigate_prices_changed (pubsub)                           │ Run: Reload
//	   │ Reload: SELECT every row ──▶ Book, swapped atomically           │  SELECT every row
//	   │                                                                 │  swap the Book
//	   │ API PUT /api/v1/prices: BEGIN; upsert the override; audit entry;
//	   │   NOTIFY aigate_prices_changed; COMMIT; Reload here before the
//	   │   answer (read your writes), the others on the notification
//
// A replica subscribes before its first load, so a change committed during
// the load reloads it again. A notification the pubsub may have missed (a
// reconnect, an overflow) reloads too. A failed reload keeps the previous
// Book and is retried with backoff (RetryTimer). Readers never lock: the
// gateway calls Service.Book once per request and keeps what it got.
//
// # Which price applies
//
// Book.Lookup: overrides before defaults; the exact name before the
// longest prefix pattern; the latest version (effective_from) at or before
// the request's start; the long-context tier the prompt falls in. Bedrock
// model IDs are tried as given, then without their cross-region prefix.
//
// # Cost
//
// Prices are micro-dollars per million tokens, so a cost is a sum of
// count × rate divided by a million, rounded half up once. What the counts
// cover differs between formats (llmwire's package doc): Price.Cost takes
// the format and bills OpenAI's cached tokens out of its input, Anthropic's
// cache reads and 5-minute and 1-hour writes beside it. A model without a
// price has no cost (NULL), never a cost of zero.
package pricing
