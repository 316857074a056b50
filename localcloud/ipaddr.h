/*
 * IPv4 / IPv6 addresses and CIDR blocks as byte arrays: what the network
 * API validates subnets with and the compute API allocates server
 * addresses from. An IPv4 address uses the first 4 bytes.
 */
#ifndef LC_IPADDR_H
#define LC_IPADDR_H

#include <stdbool.h>
#include <stddef.h>

struct lc_ip {
    int version; /* 4 or 6 */
    unsigned char b[16];
};

struct lc_cidr {
    struct lc_ip net;
    int prefix;
};

/* 0, or -1 when s is not an address. */
int lc_ip_parse(const char *s, struct lc_ip *out);
/* "10.0.0.0/24" with no host bits set; 0, or -1 with the reason (a static
 * string) in *why. */
int lc_cidr_parse(const char *s, struct lc_cidr *out, const char **why);
bool lc_cidr_contains(const struct lc_cidr *c, const struct lc_ip *ip);
bool lc_cidr_overlap(const struct lc_cidr *a, const struct lc_cidr *b);
/* The last address of the block (IPv4: the broadcast address). */
struct lc_ip lc_cidr_last(const struct lc_cidr *c);
/* ip + delta, wrapping within the address family. */
struct lc_ip lc_ip_add(struct lc_ip ip, unsigned long delta);
/* ip - 1 */
struct lc_ip lc_ip_prev(struct lc_ip ip);
int lc_ip_cmp(const struct lc_ip *a, const struct lc_ip *b);
/* Writes the canonical text form; buf needs 46 bytes. */
void lc_ip_format(const struct lc_ip *ip, char *buf, size_t n);

#endif
