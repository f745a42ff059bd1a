// Package gateway owns the /ai/{provider}/ endpoints: it authenticates the
// caller's aigate token, forwards the request to the provider with the
// provider's key, relays the response (streams event by event, bytes
// unchanged), records an interception for each intercepted request, and
// keeps the replica's provider snapshot current.
//
// # A request
//
//	client ──▶ authenticate (aigate token, cached) ──▶ snapshot lookup ──▶ route allow-list
//	       ──▶ read body (bounded) ──▶ parse model/stream ──▶ upstream (key injected;
//	           a chat stream asks for its usage if the client did not)
//	       ◀── status, headers, body: SSE events written and flushed one by one
//	           (but the usage chunk aigate asked for), usage and tool calls parsed
//	           on the side ──▶ interception queued (never blocks), request and
//	           tokens counted in the replica's usage counters
//
// A request refused for its aigate token (401, or 403 for a token without
// the gateway scope) counts as denied in the usage counters; one sent
// upstream counts as allowed (Config.Usage).
//
// Upstream URLs follow each vendor's base-URL convention (routes.go): an
// OpenAI base URL includes the API version, an Anthropic one does not.
//
// A stream ends normally, with the provider's own error event (relayed as
// is, nothing added), or cut off; only a cut stream gets an error event of
// aigate's, so an SDK never mistakes it for a short complete answer. aigate
// cuts a stream itself when the provider is silent for the idle timeout or
// sends an event larger than the maximum; a provider that sends no response
// headers within the header timeout gets the client a 504. The timeouts run
// on the Gateway's clock (HeaderTimer, IdleTimer): the idle timer is re-armed
// on every read from the provider, and either timer cancels the upstream
// request.
//
// A 401 or 429 from the upstream puts the key on a cooldown; when another key
// is free, the same request is sent again with it before the client has seen
// a byte.
//
// # Provider snapshot and hot reload
//
// Each replica holds an immutable Snapshot, swapped atomically; a request
// reads it once, so a reload never changes a provider under it.
//
//	NewReloader: SUBSCRIBE ai_providers_changed ──▶ load (REPEATABLE READ, read-only)
//	Run:    notification ─┐
//	        missed/reconnect ─┼──▶ trigger (holds one) ──▶ load ──▶ build ──▶ swap
//	        every interval ───┘                              │
//	                                                failure: keep the old snapshot,
//	                                                retry with backoff, count it
//
// Subscribing before the first load means a change committed during that
// load is followed by a notification, so it is never missed. Notifications
// that arrive during a reload collapse into one more reload. The replica
// whose API made a change reloads before the API answers (the server hooks
// Reload to providers.Service.OnCommit), so it reads its own writes. A provider that
// cannot be built (a key that does not decrypt) is kept out of service with
// an error log and answers 503; the others are unaffected.
package gateway
