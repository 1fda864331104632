"""images: presigned uploads to S3 or to this app's own disk, and the public files."""
