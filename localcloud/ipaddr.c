/*
 * Address arithmetic for subnets and server ports (see ipaddr.h); inet_pton
 * and inet_ntop do the parsing and printing.
 */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t width(int version)
{
    return version == 4 ? 4 : 16;
}

int lc_ip_parse(const char *s, struct lc_ip *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, out->b) == 1) {
        out->version = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out->b) == 1) {
        out->version = 6;
        return 0;
    }
    return -1;
}

static bool bit(const unsigned char *b, int i)
{
    return (b[i / 8] >> (7 - i % 8)) & 1;
}

int lc_cidr_parse(const char *s, struct lc_cidr *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    const char *slash = strchr(s, '/');
    if (!slash) {
        *why = "expected ADDRESS/PREFIX, e.g. 10.0.0.0/24";
        return -1;
    }
    char *addr = sf_xstrndup(s, (size_t)(slash - s));
    int rc = lc_ip_parse(addr, &out->net);
    free(addr);
    if (rc < 0) {
        *why = "the address is not an IPv4 or IPv6 address";
        return -1;
    }
    const char *p = slash + 1;
    int max = out->net.version == 4 ? 32 : 128;
    if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3 || atoi(p) > max) {
        *why = out->net.version == 4 ? "the prefix length must be 0 to 32"
                                     : "the prefix length must be 0 to 128";
        return -1;
    }
    out->prefix = atoi(p);
    for (int i = out->prefix; i < max; i++) {
        if (bit(out->net.b, i)) {
            *why = "host bits are set; give the network address of the block";
            return -1;
        }
    }
    return 0;
}

/* Whether the first prefix bits of a and b agree. */
static bool same_prefix(const unsigned char *a, const unsigned char *b, int prefix)
{
    for (int i = 0; i < prefix; i++)
        if (bit(a, i) != bit(b, i))
            return false;
    return true;
}

bool lc_cidr_contains(const struct lc_cidr *c, const struct lc_ip *ip)
{
    return c->net.version == ip->version && same_prefix(c->net.b, ip->b, c->prefix);
}

bool lc_cidr_overlap(const struct lc_cidr *a, const struct lc_cidr *b)
{
    if (a->net.version != b->net.version)
        return false;
    int p = a->prefix < b->prefix ? a->prefix : b->prefix;
    return same_prefix(a->net.b, b->net.b, p);
}

struct lc_ip lc_cidr_last(const struct lc_cidr *c)
{
    struct lc_ip ip = c->net;
    int max = (int)width(ip.version) * 8;
    for (int i = c->prefix; i < max; i++)
        ip.b[i / 8] |= (unsigned char)(1u << (7 - i % 8));
    return ip;
}

struct lc_ip lc_ip_add(struct lc_ip ip, unsigned long delta)
{
    for (size_t i = width(ip.version); i-- > 0 && delta > 0;) {
        unsigned long sum = ip.b[i] + (delta & 0xff);
        ip.b[i] = (unsigned char)sum;
        delta = (delta >> 8) + (sum >> 8);
    }
    return ip;
}

struct lc_ip lc_ip_prev(struct lc_ip ip)
{
    for (size_t i = width(ip.version); i-- > 0;) {
        if (ip.b[i]--)
            break;
    }
    return ip;
}

int lc_ip_cmp(const struct lc_ip *a, const struct lc_ip *b)
{
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    return memcmp(a->b, b->b, width(a->version));
}

void lc_ip_format(const struct lc_ip *ip, char *buf, size_t n)
{
    if (!inet_ntop(ip->version == 4 ? AF_INET : AF_INET6, ip->b, buf, (socklen_t)n))
        snprintf(buf, n, "?");
}
