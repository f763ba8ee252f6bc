//! A whole JSON answer converted once it has arrived, as a [`BodyAdapter`] for the relay: the
//! completion, or the upstream's error in OpenAI's shape.
use super::AnswerContext;
use super::{anthropic_to_completion, gemini_to_completion};
use crate::upstream::BodyAdapter;
use bytes::BytesMut;
use serde_json::Value;

type Convert = fn(&[u8], &AnswerContext) -> Result<Value, Value>;

pub struct JsonToCompletion {
    body: Vec<u8>,
    ctx: AnswerContext,
    convert: Convert,
}

impl JsonToCompletion {
    pub fn anthropic(ctx: AnswerContext) -> Self {
        Self::with(ctx, anthropic_to_completion)
    }

    pub fn gemini(ctx: AnswerContext) -> Self {
        Self::with(ctx, gemini_to_completion)
    }

    fn with(ctx: AnswerContext, convert: Convert) -> Self {
        JsonToCompletion {
            body: Vec::new(),
            ctx,
            convert,
        }
    }
}

impl BodyAdapter for JsonToCompletion {
    fn chunk(&mut self, input: &[u8], _out: &mut BytesMut) {
        self.body.extend_from_slice(input);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let answer = (self.convert)(&self.body, &self.ctx).unwrap_or_else(|error| error);
        out.extend_from_slice(answer.to_string().as_bytes());
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::openai_chat::chunks::tests::run_split;

    fn ctx() -> AnswerContext {
        AnswerContext {
            created: 3,
            requested_model: "m".into(),
            include_usage: false,
        }
    }

    #[test]
    fn a_split_answer_is_converted_whole_and_an_error_stays_an_error() {
        let body =
            br#"{"id":"msg_1","type":"message","model":"claude-x","content":[{"type":"text","text":"ok"}],
            "stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#;
        let out = run_split(&mut JsonToCompletion::anthropic(ctx()), body, &[5, 40]);
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "ok");
        assert_eq!(answer["usage"]["total_tokens"], 3);
        let error = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#;
        let out = run_split(&mut JsonToCompletion::gemini(ctx()), error, &[10]);
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["error"]["type"], "rate_limit_error");
    }
}
