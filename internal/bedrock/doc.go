// Package bedrock owns talking to AWS Bedrock for a provider of type bedrock:
// it turns an Anthropic Messages request into a SigV4-signed InvokeModel or
// InvokeModelWithResponseStream request, and turns Bedrock's binary event
// stream back into the standard Anthropic SSE events.
//
// The gateway drives it; this package makes no HTTP calls of its own (except
// what the default AWS credential chain may do to find credentials):
//
//	client ──POST /ai/P/v1/messages──▶ gateway
//	                                     │ Client.NewRequest(body, header, stream)
//	                                     │   body: −model −stream +anthropic_version
//	                                     │         anthropic-beta header → "anthropic_beta"
//	                                     │   path: /model/{modelId}/invoke[-with-response-stream]
//	                                     │   SigV4 (service "bedrock", region from Config)
//	                                     ▼
//	                                  Bedrock
//	                                     │
//	       ┌─────────────────────────────┼──────────────────────────────┐
//	   non-2xx                      2xx invoke                  2xx invoke-with-response-stream
//	  TranslateError →          Anthropic Messages JSON:      application/vnd.amazon.eventstream
//	  Anthropic error body,      passed through unchanged        NewStreamDecoder(resp.Body)
//	  same status code                                             Next() → ("message_start", {...})
//	                                                               Next() → ("content_block_delta", {...})
//	                                                               ...      ("message_stop", {...})
//	                                                               Next() → io.EOF
//	                                                             an exception frame → *ExceptionError
//	                                                               → ErrorEvent(err) as an `error` event
//
// A non-streaming InvokeModel response body is already an Anthropic Messages
// response, so the gateway passes it through unchanged; only streams need
// decoding. Each stream event's JSON is returned byte for byte as Bedrock sent
// it (Bedrock adds an "amazon-bedrock-invocationMetrics" member to
// message_stop, which Anthropic clients ignore).
//
// The binary framing, as Bedrock sends it (all integers big-endian, CRCs are
// CRC-32/IEEE):
//
//	┌──────────────┬───────────────┬─────────────┬─────────┬─────────┬─────────────┐
//	│ total length │ header length │ prelude CRC │ headers │ payload │ message CRC │
//	│   4 bytes    │    4 bytes    │   4 bytes   │         │         │   4 bytes   │
//	└──────────────┴───────────────┴─────────────┴─────────┴─────────┴─────────────┘
//	  prelude CRC covers the first 8 bytes; message CRC covers everything before it.
//	  header: name length (1) · name · value type (1) · value (type-dependent)
//	  ":message-type" event     + ":event-type" chunk → payload {"bytes":"<base64 Anthropic event>"}
//	  ":message-type" exception + ":exception-type"   → payload {"message":"..."}
//	  ":message-type" error     + ":error-code", ":error-message" headers
package bedrock
