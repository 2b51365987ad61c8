//! Region codes that Aurora MySQL global databases can span, and their partitions.
//! A global database cannot cross partitions, so the partition is checked too.

use schemars::JsonSchema;

/// (code, partition). Kept sorted by code; the schema lists them in this order.
pub const KNOWN_REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "aws"),
    ("ap-east-1", "aws"),
    ("ap-northeast-1", "aws"),
    ("ap-northeast-2", "aws"),
    ("ap-northeast-3", "aws"),
    ("ap-south-1", "aws"),
    ("ap-south-2", "aws"),
    ("ap-southeast-1", "aws"),
    ("ap-southeast-2", "aws"),
    ("ap-southeast-3", "aws"),
    ("ap-southeast-4", "aws"),
    ("ap-southeast-5", "aws"),
    ("ap-southeast-7", "aws"),
    ("ca-central-1", "aws"),
    ("ca-west-1", "aws"),
    ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"),
    ("eu-central-1", "aws"),
    ("eu-central-2", "aws"),
    ("eu-north-1", "aws"),
    ("eu-south-1", "aws"),
    ("eu-south-2", "aws"),
    ("eu-west-1", "aws"),
    ("eu-west-2", "aws"),
    ("eu-west-3", "aws"),
    ("il-central-1", "aws"),
    ("me-central-1", "aws"),
    ("me-south-1", "aws"),
    ("mx-central-1", "aws"),
    ("sa-east-1", "aws"),
    ("us-east-1", "aws"),
    ("us-east-2", "aws"),
    ("us-gov-east-1", "aws-us-gov"),
    ("us-gov-west-1", "aws-us-gov"),
    ("us-west-1", "aws"),
    ("us-west-2", "aws"),
];

/// The partition a known Region belongs to.
pub fn partition(code: &str) -> Option<&'static str> {
    KNOWN_REGIONS
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, partition)| *partition)
}

pub fn codes() -> impl Iterator<Item = &'static str> {
    KNOWN_REGIONS.iter().map(|(code, _)| *code)
}

/// Schema-only type: a known Region code, so editors offer the list as completions.
pub struct RegionCode;

impl JsonSchema for RegionCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RegionCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = codes().collect();
        schemars::json_schema!({
            "type": "string",
            "enum": codes,
            "description": "An AWS Region code, for example `us-east-1`."
        })
    }
}
