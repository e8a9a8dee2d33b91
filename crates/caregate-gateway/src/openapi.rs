//! The OpenAPI 3.1 description of the gateway's v1 routes, served at `/openapi.json`. A test holds its
//! operations equal to the router's list, `routes::described`: every route served is described, and every
//! operation described is served.
//!
//! Not for: serving anything; `routes` does.

use serde_json::{json, Value};

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}, "description": "The message id the gateway gave at acceptance."})
}

pub fn document() -> Value {
    let envelope_body = json!({
        "required": true,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
            "application/xml": {"schema": {"type": "string", "description": "An <Envelope> in urn:caregate:envelope:1"}}
        }
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "caregate gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Send social-care messages (envelopes) between organisations. Each is validated against its standard, \
                            redacted per recipient by the security policy, stored durably and delivered to a mailbox or by push."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "The gateway is up."}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "Counters, histograms and the queue depth.", "content": {"text/plain": {}}}}}},
            "/v1/messages": {"post": {
                "summary": "Send an envelope",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255},
                                "description": "The same key and body returns the first answer; the same key with another body is 409."}],
                "requestBody": envelope_body,
                "responses": {
                    "202": {"description": "Accepted and durably stored; or a repeat (same Idempotency-Key and body, or same messageId and envelope) with the first answer.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                    "400": problem("A malformed Idempotency-Key."),
                    "401": problem("No bearer token, or an unknown one."),
                    "403": problem("The token's organisation may not send this envelope (sender, standard or recipient)."),
                    "408": problem("The body did not arrive in time."),
                    "409": problem("The Idempotency-Key was used with another body, or this sender's messageId with another envelope."),
                    "413": problem("The body is over the size limit."),
                    "415": problem("Not application/json or application/xml, or the body is not what the Content-Type says."),
                    "422": problem(&format!("The envelope or its body breaks its standard or the policy; `findings` says where (the first {}, with `total` and `counts` of them all).", super::problem::MAX_FINDINGS)),
                    "429": problem("The sender is over its rate limit; see Retry-After."),
                    "503": problem("The gateway's database cannot be reached; nothing was stored. Send the same request again after Retry-After.")
                }
            }},
            "/v1/messages/{id}": {"get": {
                "summary": "A sent message's state per recipient (its sender only)",
                "parameters": [id_param()],
                "responses": {"200": {"description": "State and attempts per recipient.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MessageStatus"}}}},
                              "401": problem("Not authenticated."), "404": problem("No such message sent by the caller.")}
            }},
            "/v1/mailbox": {"get": {
                "summary": "The caller's mailbox, newest first",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
                "responses": {"200": {"description": "Messages addressed to the caller."}, "401": problem("Not authenticated.")}
            }},
            "/v1/mailbox/{id}": {"get": {
                "summary": "The caller's copy of a message, redacted for it, in its preferred format or as Accept asks",
                "parameters": [id_param()],
                "responses": {"200": {"description": "The delivered envelope, with `redactions`.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}, "application/xml": {}}},
                              "401": problem("Not authenticated."), "404": problem("The caller holds no copy of this message.")}
            }},
            "/v1/mailbox/{id}/ack": {"post": {
                "summary": "Acknowledge a copy",
                "parameters": [id_param()],
                "responses": {"200": {"description": "Acknowledged."}, "401": problem("Not authenticated."), "404": problem("No such copy."), "409": problem("The copy was not delivered.")}
            }},
            "/v1/validate": {"post": {
                "summary": "Validate a document (stateless)",
                "parameters": [{"name": "standard", "in": "query", "schema": {"type": "string"}, "description": "id@version; detected when absent."}],
                "requestBody": {"required": true, "content": {"application/json": {}, "application/xml": {}}},
                "responses": {"200": {"description": "The JSON report's document result (valid, counts, findings)."}, "401": problem("Not authenticated."), "413": problem("Too large.")}
            }},
            "/v1/convert": {"post": {
                "summary": "Convert a document between XML and JSON (stateless)",
                "parameters": [{"name": "to", "in": "query", "required": true, "schema": {"enum": ["json", "xml"]}}],
                "requestBody": {"required": true, "content": {"application/json": {}, "application/xml": {}}},
                "responses": {"200": {"description": "The converted document."}, "400": problem("Bad target."), "401": problem("Not authenticated."), "422": problem("Unreadable input.")}
            }},
            "/v1/standards": {"get": {"summary": "The standards held", "security": [], "responses": {"200": {"description": "Pack metadata."}}}},
            "/v1/standards/{id}/{version}": {"get": {
                "summary": "One standard: metadata, rules and JSON Schema", "security": [],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "version", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The pack."}, "404": problem("Not held.")}
            }},
            "/v1/admin/dead-letters": {"get": {"summary": "Copies whose push delivery gave up (admin)", "responses": {"200": {"description": "Dead letters."}, "401": problem("Not authenticated."), "403": problem("Not the admin token.")}}},
            "/v1/admin/dead-letters/{id}/replay": {"post": {
                "summary": "Send a message's dead letters again (admin)", "parameters": [id_param()],
                "responses": {"202": {"description": "Queued again."}, "401": problem("Not authenticated."), "403": problem("Not the admin token."), "404": problem("No dead letter for this message.")}
            }},
            "/v1/admin/audit": {"get": {
                "summary": "The audit chain verified: its entries, whether it is intact, and its head (admin)",
                "responses": {"200": {"description": "The chain's state.", "content": {"application/json": {"schema": audit_status()}}},
                    "401": problem("Not authenticated."), "403": problem("Not the admin token.")}
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Accepted": {"type": "object", "required": ["id", "status", "receivedAt", "digest"], "properties": {
                    "id": {"type": "string", "format": "uuid"}, "status": {"const": "accepted"},
                    "receivedAt": {"type": "string", "format": "date-time"}, "digest": {"type": "string", "description": "sha256:<hex> of the request body"}}},
                "Problem": {"type": "object", "description": "RFC 9457", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "findings": {"type": "array", "maxItems": super::problem::MAX_FINDINGS, "items": {"$ref": "#/components/schemas/Finding"},
                                 "description": "The first findings (at most this many): errors, then queries, then warnings, each in document order."},
                    "total": {"type": "integer", "minimum": 0, "description": "How many findings there were in all, listed or not; present with `findings`."},
                    "counts": {"type": "object", "required": ["error", "query", "warning"], "description": "How many findings there were of each severity; present with `findings`.",
                               "properties": {"error": {"type": "integer", "minimum": 0}, "query": {"type": "integer", "minimum": 0}, "warning": {"type": "integer", "minimum": 0}}}}},
                "Finding": {"type": "object", "required": ["rule", "severity", "message"], "properties": {
                    "rule": {"type": "string"}, "severity": {"enum": ["error", "query", "warning"]}, "message": {"type": "string"},
                    "location": {"type": "object", "properties": {"line": {"type": "integer"}, "column": {"type": "integer"}, "path": {"type": "string"}, "pointer": {"type": "string"}}},
                    "record": {"type": "string"}, "clause": {"type": "string"}, "fix": {"type": "string"}}},
                "MessageStatus": {"type": "object", "properties": {
                    "id": {"type": "string"}, "standard": {"type": "string"}, "receivedAt": {"type": "string"}, "digest": {"type": "string"},
                    "recipients": {"type": "array", "items": {"type": "object", "properties": {
                        "organisation": {"type": "string"}, "role": {"type": "string"}, "delivery": {"enum": ["mailbox", "push"]},
                        "state": {"enum": ["pending", "delivered", "acknowledged", "failed", "dead"]}, "attempts": {"type": "integer"},
                        "lastError": {"type": ["string", "null"]}, "updatedAt": {"type": "string"}}}}}},
                "Envelope": {"type": "object", "description": "The envelope 1.0 standard's JSON form; its full schema is at /v1/standards/envelope/1.0."}
            }
        }
    })
}

/// The answer of `GET /v1/admin/audit` (apart, as one `json!` cannot nest the whole document this deep).
fn audit_status() -> Value {
    json!({
        "type": "object", "required": ["entries", "intact"], "properties": {
            "entries": {"type": "integer", "minimum": 0, "description": "Entries that chain intact from the first."},
            "intact": {"type": "boolean"},
            "head": {"type": ["object", "null"], "description": "The last entry (its number, hash and time), as `caregate audit anchor` writes it.",
                     "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"}, "at": {"type": "string"}}},
            "broken": {"type": "object", "description": "The first entry that breaks the chain.",
                       "properties": {"position": {"type": "integer"}, "seq": {"type": "integer"}, "reason": {"type": "string"}}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes;

    /// The keys of a path item that are operations; the others (`summary`, `parameters`, …) are not.
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    #[test]
    fn the_document_describes_exactly_the_routes_served() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut operations: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths is an object") {
            for method in item.as_object().expect("a path item is an object").keys() {
                if METHODS.contains(&method.as_str()) {
                    operations.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        operations.sort();
        let mut served: Vec<(String, String)> =
            routes::described().iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        served.sort();
        // Equal lists: nothing served goes undescribed, nothing described is unserved, and no route is listed twice.
        assert_eq!(served, operations);
    }
}
