//! Tests of the Anthropic Messages conversions.
