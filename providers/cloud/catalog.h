/*
 * What other providers may ask of the cloud provider's session: the
 * endpoints of its catalog. The s3 provider finds object storage here when
 * its block names no endpoint, so a description that reaches the cloud
 * needs no second URL for S3.
 */
#ifndef SF_CLOUD_CATALOG_H
#define SF_CLOUD_CATALOG_H

/* The public URL (no trailing '/') of the catalog's service of that type
 * ("object-store") in the session's region, a new string; NULL when the
 * catalog has none. ctx is the cloud provider's context (its configure's
 * *ctx, as sf_provider_setup.peer gives it). */
char *sf_cloud_catalog_url(const void *ctx, const char *type);

#endif
