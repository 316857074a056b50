/*
 * Where a value came from. A resource inside a module gets most of its
 * values from the module's inputs ("${input.registry.flavor}") or from the
 * for_each instance it is ("${each.value.flavor}"), and those from what
 * the caller wrote. When a provider finds fault with a value only at plan
 * time (a flavor the cloud does not have), the place to name is the one
 * the user wrote: this follows such a value back, frame by frame, to that
 * node. The loader (provisioner/config.c) places attribute errors with it.
 */
#ifndef SF_ORIGIN_H
#define SF_ORIGIN_H

#include "config.h"

/* The node where the value of r's attribute attr was written: its own
 * node in r's with:, followed while that value is exactly one reference
 * with literal steps to an input given by the caller (input.a.b) or to
 * the instance of a for_each over such a value (each.value.x), into the
 * caller's text and on through the callers above it. Where a step cannot
 * be followed (a function call, a default, a value from a variable) it
 * stops at the last node written, which is inside the nearest caller that
 * wrote any of it. NULL when with: does not set attr. Borrowed from the
 * config. */
const struct sf_node *sf_origin_attr(const struct sf_config *c, const struct sf_resource_cfg *r,
                                     const char *attr);

#endif
