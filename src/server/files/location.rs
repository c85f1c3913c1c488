//! Where files live (`--files`): a directory (by default beside the SQLite file), an
//! S3-compatible bucket (`s3://BUCKET/PREFIX`, for several instances: any instance serves a
//! file another kept), or memory (tests, and the memory store).

use std::{path::PathBuf, str::FromStr, sync::Arc};

use object_store::{
    aws::AmazonS3Builder, local::LocalFileSystem, memory::InMemory, prefix::PrefixStore,
    ObjectStore,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesLocation {
    Memory,
    Directory(PathBuf),
    /// Credentials, region and endpoint as the AWS tools read them (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for MinIO, Ceph, Garage...),
    /// or `--s3-endpoint` / `--s3-region`.
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: Option<String>,
    },
}

impl FilesLocation {
    /// The store, its directory created if missing.
    pub fn open(&self) -> Result<Arc<dyn ObjectStore>, String> {
        Ok(match self {
            Self::Memory => Arc::new(InMemory::new()),
            Self::Directory(path) => {
                std::fs::create_dir_all(path)
                    .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
                let local = LocalFileSystem::new_with_prefix(path)
                    .map_err(|error| format!("cannot use {}: {error}", path.display()))?;
                Arc::new(local)
            }
            Self::S3 {
                bucket,
                prefix,
                endpoint,
                region,
            } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(region) = region {
                    builder = builder.with_region(region);
                }
                let s3 = builder
                    .build()
                    .map_err(|error| format!("cannot use s3://{bucket}: {error}"))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
        })
    }
}

impl FromStr for FilesLocation {
    type Err = String;

    /// `s3://BUCKET/PREFIX`, `memory`, or a directory.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("s3://BUCKET/PREFIX names no bucket".into());
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                endpoint: None,
                region: None,
            });
        }
        match value {
            "" => Err("--files names no place".into()),
            "memory" => Ok(Self::Memory),
            path => Ok(Self::Directory(path.into())),
        }
    }
}
