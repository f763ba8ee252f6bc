//! Which upstream API a request is for. Routes match on the end of the path so any base-path
//! prefix works (`/v1/messages`, `/api/v1/messages`, `/backend-api/codex/responses`, ...).

use actix_web::http::Method;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    AnthropicMessages,
    AnthropicCountTokens,
    ChatCompletions,
    Responses,
    /// `.../models/{model}:{verb}`.
    Gemini {
        model: &'a str,
        verb: GeminiVerb,
    },
    /// `.../v1internal:{method}` (Gemini Code Assist).
    CodeAssist {
        method: &'a str,
    },
    ModelList(ModelsShape),
    Model {
        shape: ModelsShape,
        id: &'a str,
    },
    /// Bedrock's `.../model/{modelId}/{operation}`; the id as sent (percent-encoded).
    Bedrock {
        model: &'a str,
        operation: crate::bedrock::Operation,
    },
    /// An OAuth token endpoint (`.../oauth/token`, Google's `.../token`).
    Token,
    /// The mock's own control API under `/__mock/`.
    Control {
        action: &'a str,
    },
    NotFound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeminiVerb {
    Generate,
    Stream,
    CountTokens,
}

/// Whose shape a model list answers in: `/v1/models` is Anthropic's, OpenAI's and Gemini's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModelsShape {
    Anthropic,
    OpenAi,
    Gemini,
}

/// The facts about a request that pick its route besides method and path.
pub(crate) struct Hints {
    pub anthropic_version: bool,
    pub google_key: bool,
}

pub(crate) fn route<'a>(method: &Method, path: &'a str, hints: &Hints) -> Route<'a> {
    if let Some(action) = path.strip_prefix("/__mock/") {
        return Route::Control { action };
    }
    let path = path.trim_end_matches('/');
    if *method == Method::POST {
        post_route(path)
    } else if *method == Method::GET {
        get_route(path, hints)
    } else {
        Route::NotFound
    }
}

fn post_route(path: &str) -> Route<'_> {
    if let Some((rest, last)) = path.rsplit_once('/')
        && let Some(operation) = crate::bedrock::Operation::from_path(last)
        && let Some((_, model)) = rest.rsplit_once("/model/")
        && !model.is_empty()
        && !model.contains('/')
    {
        return Route::Bedrock { model, operation };
    }
    if path.ends_with("/messages/count_tokens") {
        return Route::AnthropicCountTokens;
    }
    if path.ends_with("/messages") {
        return Route::AnthropicMessages;
    }
    if path.ends_with("/chat/completions") {
        return Route::ChatCompletions;
    }
    if path.ends_with("/responses") {
        return Route::Responses;
    }
    if path.ends_with("/token") {
        return Route::Token;
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    let Some((target, verb)) = last.rsplit_once(':') else {
        return Route::NotFound;
    };
    if target == "v1internal" {
        return Route::CodeAssist { method: verb };
    }
    let verb = match verb {
        "generateContent" => GeminiVerb::Generate,
        "streamGenerateContent" => GeminiVerb::Stream,
        "countTokens" => GeminiVerb::CountTokens,
        _ => return Route::NotFound,
    };
    if path[..path.len() - last.len()].ends_with("/models/") && !target.is_empty() {
        Route::Gemini { model: target, verb }
    } else {
        Route::NotFound
    }
}

fn get_route<'a>(path: &'a str, hints: &Hints) -> Route<'a> {
    let shape = if hints.anthropic_version {
        ModelsShape::Anthropic
    } else if hints.google_key || path.contains("/v1beta/") {
        ModelsShape::Gemini
    } else {
        ModelsShape::OpenAi
    };
    if path.ends_with("/models") {
        return Route::ModelList(shape);
    }
    match path.rsplit_once("/models/") {
        Some((_, id)) if !id.is_empty() && !id.contains(':') => Route::Model { shape, id },
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Hints = Hints {
        anthropic_version: false,
        google_key: false,
    };

    fn post(path: &str) -> Route<'_> {
        route(&Method::POST, path, &PLAIN)
    }

    #[test]
    fn post_routes_match_any_prefix() {
        assert_eq!(post("/v1/messages"), Route::AnthropicMessages);
        assert_eq!(post("/api/v1/messages"), Route::AnthropicMessages);
        assert_eq!(post("/v1/messages/count_tokens"), Route::AnthropicCountTokens);
        assert_eq!(post("/v1/chat/completions"), Route::ChatCompletions);
        assert_eq!(post("/backend-api/codex/responses"), Route::Responses);
        assert_eq!(post("/v1/oauth/token"), Route::Token);
        assert_eq!(post("/token"), Route::Token);
        assert_eq!(
            post("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            Route::Gemini {
                model: "gemini-2.5-flash",
                verb: GeminiVerb::Stream
            }
        );
        assert_eq!(
            post("/x/v1/models/g:countTokens"),
            Route::Gemini {
                model: "g",
                verb: GeminiVerb::CountTokens
            }
        );
        assert_eq!(
            post("/v1internal:loadCodeAssist"),
            Route::CodeAssist {
                method: "loadCodeAssist"
            }
        );
        assert_eq!(post("/v1/models/g:unknownVerb"), Route::NotFound);
        assert_eq!(post("/v1/other"), Route::NotFound);
        assert_eq!(
            post("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"),
            Route::Bedrock {
                model: "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0",
                operation: crate::bedrock::Operation::InvokeStream
            }
        );
        assert_eq!(post("/model//invoke"), Route::NotFound);
        assert_eq!(post("/model/m/converse"), Route::NotFound);
        assert_eq!(post("/__mock/requests"), Route::Control { action: "requests" });
    }

    #[test]
    fn model_lists_pick_their_shape() {
        let anthropic = Hints {
            anthropic_version: true,
            google_key: false,
        };
        let google = Hints {
            anthropic_version: false,
            google_key: true,
        };
        assert_eq!(
            route(&Method::GET, "/v1/models", &anthropic),
            Route::ModelList(ModelsShape::Anthropic)
        );
        assert_eq!(
            route(&Method::GET, "/v1/models", &PLAIN),
            Route::ModelList(ModelsShape::OpenAi)
        );
        assert_eq!(
            route(&Method::GET, "/v1/models", &google),
            Route::ModelList(ModelsShape::Gemini)
        );
        assert_eq!(
            route(&Method::GET, "/v1beta/models", &PLAIN),
            Route::ModelList(ModelsShape::Gemini)
        );
        assert_eq!(
            route(&Method::GET, "/v1/models/gpt-4o", &PLAIN),
            Route::Model {
                shape: ModelsShape::OpenAi,
                id: "gpt-4o"
            }
        );
        assert_eq!(route(&Method::HEAD, "/", &PLAIN), Route::NotFound);
        assert_eq!(route(&Method::GET, "/v1/messages", &PLAIN), Route::NotFound);
    }
}
