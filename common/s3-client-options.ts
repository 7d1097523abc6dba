/**
 * The S3 client settings Sluice uses wherever it talks to an object store (the segment stores'
 * Tier-2, the client's direct Tier-2 reads): a plain object for `new S3Client(...)`, so that common/
 * does not depend on the AWS SDK.
 */
export interface S3Access {
  /** `http(s)://host:port` of the S3 server. */
  endpoint: string;
  /** Default: AWS_REGION, else us-east-1. */
  region?: string | undefined;
  /** Default: the AWS SDK's provider chain (AWS_* variables, then profiles). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

export function s3ClientOptions(access: S3Access, requestTimeoutMs: number) {
  return {
    endpoint: access.endpoint,
    region: access.region ?? process.env["AWS_REGION"] ?? "us-east-1",
    forcePathStyle: true,
    // Retries are ours, so that each try has its own deadline over the whole reply.
    maxAttempts: 1,
    // Flexible checksums (x-amz-checksum-*, aws-chunked trailers) are newer than radosgw 16: Content-MD5 is used instead.
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
    // NodeHttpHandler options, given as such so that @smithy/node-http-handler (not our dependency) is not imported.
    requestHandler: { connectionTimeout: requestTimeoutMs, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
    ...(access.credentials === undefined ? {} : { credentials: access.credentials }),
  };
}
