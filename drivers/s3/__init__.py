"""The S3 driver (extra [s3]): boto3 against Amazon S3 or any S3-compatible store."""
