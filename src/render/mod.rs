//! Rendering CloudFormation templates from a validated environment.
