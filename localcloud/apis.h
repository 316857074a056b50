/*
 * Registration of the emulated APIs that export nothing else; main.c calls
 * these after lc_identity_register (identity.h) and lc_faults_register
 * (faults.h). Each returns 0, or -1 when its prefix is already taken.
 */
#ifndef LC_APIS_H
#define LC_APIS_H

#include "server.h"

/* Neutron subset under /network/v2.0: networks and subnets. */
int lc_network_register(struct lc_server *srv);
/* Nova subset under /compute/v2.1: flavors, images, keypairs, servers;
 * and the Glance v2 subset under /image that serves the same images. */
int lc_compute_register(struct lc_server *srv);
/* Whether text is OpenSSH public key lines ("TYPE BASE64 [comment]", one
 * or more) that a console can show fingerprints of; *why (static) says
 * what is wrong when not. */
bool lc_compute_host_keys_ok(const char *text, const char **why);
/* The id of one of compute's fixed flavors, given its id or its name
 * ("STD3-4-8"); NULL when there is no such flavor. Static string. */
const char *lc_compute_flavor_id(const char *ref);
/* Magnum-style container-infra v1 under /container-infra/v1: clusters,
 * node groups, their actions and kubeconfigs (containerinfra.c). */
int lc_containerinfra_register(struct lc_server *srv);
/* S3 under /s3, path-style, SigV4 with identity's EC2 credentials (s3*.c). */
int lc_s3_register(struct lc_server *srv);
/* A Kubernetes API per container-infra cluster under /k8s (k8s*.c). */
int lc_k8s_register(struct lc_server *srv);
/* GET /_localcloud/inventory and GET /_localcloud/health. */
int lc_inventory_register(struct lc_server *srv);

#endif
