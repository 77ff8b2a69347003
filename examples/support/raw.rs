//! The raw aws-sdk-s3 client the benchmarks compare against, configured as the crate
//! configures its own: the given endpoint, path-style addressing, `us-east-1`, and
//! checksums only where an operation requires them.

use aws_sdk_s3::config::{Builder, Region, RequestChecksumCalculation, ResponseChecksumValidation};

/// The raw client's configuration for `endpoint`, for a caller to add to and build.
pub async fn raw_config(endpoint: &str) -> Builder {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Builder::from(&sdk)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
}
