/*
 * S3 bucket names (s3name.c).
 */
#ifndef SF_S3NAME_H
#define SF_S3NAME_H

/* Why name is not a valid bucket name (S3's rules for general purpose
 * buckets: 3-63 of a-z 0-9 . -, a letter or digit at both ends, no "..",
 * no ".-"/"-.", not an IPv4 address, none of the reserved prefixes and
 * suffixes), or NULL when it is. */
const char *sf_s3_bucket_name_problem(const char *name);

#endif
