//! AWS Bedrock (Claude) as an upstream: everything the Bedrock account kind needs, apart from
//! its place in the relay. The client speaks Anthropic Messages; Bedrock takes nearly the same
//! body at a different URL, authenticated with SigV4 or a Bedrock API key, and streams it back
//! in AWS's binary event-stream framing.
//!
//! How the kind module uses each piece, in request order:
//!
//! 1. **Credentials** ([`credentials`]): the account's stored secret is the JSON that
//!    [`BedrockCredentials::from_json`] parses and validates (region + access key id / secret /
//!    optional session token, or region + `api_key`); [`BedrockCredentials::to_json`] is what
//!    admin/CLI encrypt and store. Errors name the field, never the value; `Debug` hides
//!    secrets; [`BedrockCredentials::public_label`] is safe for status output.
//! 2. **Model** ([`models`]): the account's optional map (Anthropic name → Bedrock id, profile
//!    id or ARN) is a [`ModelMap`]; [`ModelMap::bedrock_id`] falls back to the built-in table
//!    with the region's inference profile (`us.`/`eu.`/`apac.`) for models that need one.
//!    Unknown names are a [`models::ModelError`] → answer the client 400
//!    `invalid_request_error` without trying another account (every Bedrock account would
//!    refuse it; unless accounts have different maps, then skip this account).
//! 3. **Body and URL** ([`request`]): [`request::invoke`] takes the client's Messages body and
//!    its `anthropic-beta` header and returns the model id, whether it streams, and the
//!    `InvokeModel` body. [`Endpoint::for_region`] (or [`Endpoint::with_base`] for an
//!    operator override and the test mock) gives the URL per [`Operation`]. count_tokens:
//!    [`request::count_tokens`] + [`Operation::CountTokens`], and the answer through
//!    [`request::anthropic_count_answer`]. Send `content-type: application/json` and
//!    `accept: application/json` (or `application/vnd.amazon.eventstream` when streaming).
//!    Do not forward the client's `anthropic-*` headers or its auth.
//! 4. **Auth** ([`signing`]): last, call [`signing::authorize`] with the exact method, URL,
//!    headers and body that go out, and add the headers it returns (`authorization`,
//!    `x-amz-date`, `x-amz-security-token`). Headers added later are not signed; that is fine
//!    only for `user-agent` and the like.
//! 5. **Answer** (status 2xx): JSON answers are Anthropic message JSON (read usage with the
//!    Anthropic JSON reader; price with the model name from [`ModelMap::anthropic_name`] of the
//!    model id, since the price table knows Anthropic names and Bedrock's list prices for
//!    Claude equal Anthropic's). A stream (`application/vnd.amazon.eventstream`) goes through
//!    [`EventStreamToSse`] (a `providers::BodyAdapter`, content type `text/event-stream`) to
//!    the client; usage through [`usage::StreamUsage`] wrapping the Anthropic SSE usage reader.
//!    The kind (`upstream::kinds::bedrock`) tells the relay this content type is a stream.
//!    [`EventStreamToSse::failure`] tells what an in-stream exception meant.
//! 6. **Errors** (status not 2xx): [`BedrockError::from_answer`] classifies by
//!    `x-amzn-ErrorType`/`__type`/status into a [`Failure`] that says whether to rest the
//!    account and try another ([`Failure::rests_account`], [`Failure::try_another_account`]),
//!    and gives the Anthropic status and body the client gets
//!    ([`Failure::anthropic`], [`BedrockError::anthropic_body`]). Bedrock sends no
//!    `retry-after`; rest a throttled account for the default cooldown.
//!
//! The mock upstream (`tests/mock-upstream`, module `bedrock`) speaks all of this and verifies
//! SigV4 with its own implementation; `tests/bedrock_wire.rs` runs these pieces against it.

pub mod credentials;
pub mod errors;
pub mod event_stream;
pub mod models;
pub mod request;
pub mod signing;
pub mod stream;
pub mod usage;

pub use credentials::{BedrockAuth, BedrockCredentials, CredentialsError, Region};
pub use errors::{BedrockError, Failure};
pub use models::ModelMap;
pub use request::{Endpoint, Invoke, Operation};
pub use stream::EventStreamToSse;

/// The content type of Bedrock's response streams.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";
