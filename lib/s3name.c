/*
 * The rules S3 sets for the names of general purpose buckets, in one
 * place for both sides: the s3 provider checks a description's bucket
 * names at plan time, and localcloud refuses a CreateBucket as S3 would.
 */
#include "s3name.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *sf_s3_bucket_name_problem(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 63)
        return "a bucket name is 3 to 63 characters long";
    if (strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789.-") != len)
        return "a bucket name has only lower-case letters, digits, dots and hyphens";
    if (!isalnum((unsigned char)n[0]) || !isalnum((unsigned char)n[len - 1]))
        return "a bucket name begins and ends with a letter or a digit";
    if (strstr(n, "..") || strstr(n, ".-") || strstr(n, "-."))
        return "a bucket name has no two adjacent dots and no dot next to a hyphen";
    unsigned a, b, c, d;
    char tail;
    if (sscanf(n, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4)
        return "a bucket name is not formatted as an IP address";
    if (strncmp(n, "xn--", 4) == 0 || strncmp(n, "sthree-", 7) == 0)
        return "a bucket name does not begin with xn-- or sthree-";
    if ((len > 8 && strcmp(n + len - 8, "-s3alias") == 0) ||
        (len > 7 && strcmp(n + len - 7, "--ol-s3") == 0))
        return "a bucket name does not end with -s3alias or --ol-s3";
    return NULL;
}
