//! `/v1/models` in OpenAI's format, for the model ids a key may use.
use serde_json::{Value, json};

/// `{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`;
/// `owned_by` names who serves the model (e.g. `anthropic`, `google`).
pub fn model_list<'a>(models: impl IntoIterator<Item = (&'a str, &'a str)>, created: u64) -> Value {
    let data: Vec<Value> = models
        .into_iter()
        .map(|(id, owned_by)| json!({"id": id, "object": "model", "created": created, "owned_by": owned_by}))
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_a_model_object_in_order() {
        let list = model_list(
            [("claude-sonnet-4-5", "anthropic"), ("gemini-2.5-pro", "google")],
            1_700_000_000,
        );
        assert_eq!(
            list,
            json!({"object": "list", "data": [
                {"id": "claude-sonnet-4-5", "object": "model", "created": 1_700_000_000u64, "owned_by": "anthropic"},
                {"id": "gemini-2.5-pro", "object": "model", "created": 1_700_000_000u64, "owned_by": "google"}]})
        );
        assert_eq!(model_list([], 0), json!({"object": "list", "data": []}));
    }
}
